// Module hook for in-process tests of src/: the bundler generates `ptybridge:web-assets`;
// parsing tests do not serve pages, so an empty asset table stands in for it.
export async function resolve(specifier, context, next) {
  if (specifier === 'ptybridge:web-assets') return { url: 'data:text/javascript,export const assets = {};', shortCircuit: true };
  return next(specifier, context);
}

// Bundles src/ twice: dist/ptybridge.mjs (npm start, the tests) and dist/ptybridge-sea.cjs (what the single binary carries).
// The browser terminal (src/web/client.ts + xterm.js + CSS) is built first and carried inside
// both as the generated module `ptybridge:web-assets`: no CDN, no asset directory.
import { build } from 'esbuild';
import { chmodSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { buildNative } from './build-native.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const pkg = JSON.parse(readFileSync(`${ROOT}package.json`, 'utf8'));
const src = (p) => `${ROOT}src/${p}`;

/** The terminal page's files and the console index's script, by name: { type, body }. */
async function webAssets() {
  const out = await build({
    entryPoints: { terminal: src('web/client.ts'), index: src('web/index-client.ts') },
    outdir: '/virtual',
    bundle: true,
    write: false,
    minify: true,
    format: 'iife',
    target: ['chrome100', 'firefox100', 'safari15'],
    legalComments: 'eof',
    logLevel: 'warning',
  });
  const assets = { 'index.html': { type: 'text/html; charset=utf-8', body: readFileSync(src('web/index.html'), 'utf8') } };
  for (const f of out.outputFiles) {
    const name = f.path.split('/').pop();
    const type = name.endsWith('.css') ? 'text/css; charset=utf-8' : 'text/javascript; charset=utf-8';
    assets[name] = { type, body: f.text };
  }
  return assets;
}

const assets = await webAssets();
const webAssetsPlugin = {
  name: 'web-assets',
  setup(b) {
    b.onResolve({ filter: /^ptybridge:web-assets$/ }, (args) => ({ path: args.path, namespace: 'web-assets' }));
    b.onLoad({ filter: /.*/, namespace: 'web-assets' }, () => ({
      contents: `export const assets = ${JSON.stringify(assets)};`,
      loader: 'js',
    }));
  },
};

/**
 * In the SEA bundle the JS of node-pty and serialport is bundled, and the two modules that
 * find their `.node` file on disk (node-pty's requireBinary, serialport's node-gyp-build
 * call) are replaced by a call to the SEA asset cache (src/sea-cache.ts).
 */
const seaNativesPlugin = {
  name: 'sea-natives',
  setup(b) {
    const shim = (code) => () => ({ contents: code, loader: 'js', resolveDir: ROOT });
    const cache = JSON.stringify(src('sea-cache.ts'));
    b.onLoad(
      { filter: /[\\/]@lydell[\\/]node-pty[\\/]requireBinary\.js$/ },
      shim(`exports.requireBinary = function (file) { return require(${cache}).seaAddon(file); };`),
    );
    b.onLoad(
      { filter: /[\\/]@serialport[\\/]bindings-cpp[\\/]dist[\\/]serialport-bindings\.js$/ },
      shim(`exports.binding = require(${cache}).seaAddon('serialport.node');`),
    );
  },
};

/**
 * zod re-exports all of its ~40 message locales as `z.locales` (and core as `locales`), and since `z` is one namespace
 * object esbuild cannot drop them: they were ~8 ms of every start. ptybridge writes its own
 * messages and zod's configured default is English, so `z.locales` carries just that.
 */
const zodEnglishOnly = {
  name: 'zod-english-only',
  setup(b) {
    b.onResolve({ filter: /^\.\.\/locales\/index\.js$/ }, (args) =>
      /[\\/]zod[\\/]v4[\\/](classic|core)$/.test(args.resolveDir) ? { path: 'zod-locales', namespace: 'zod-locales' } : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'zod-locales' }, () => ({
      contents: `export { default as en } from ${JSON.stringify(`${ROOT}node_modules/zod/v4/locales/en.js`)};`,
      loader: 'js',
      resolveDir: ROOT,
    }));
  },
};

/**
 * Node's heavier built-in modules load when their first export is used, not when a module
 * that imports them loads: the ESM bundle's imports of node: modules all run before its
 * first line (crypto, http, child_process, zlib… ~20 ms under a tcp route that needs none
 * of them), and in the CommonJS bundle a module's requires run when it loads. Each becomes
 * a module whose exports are getters (the names this Node's module has, taken at build
 * time), requiring the real module on first use. Modules every route needs anyway (fs,
 * net, stream, …) stay plain imports.
 */
const LAZY_BUILTINS = [
  'child_process',
  'crypto',
  'dgram',
  'dns',
  'dns/promises',
  'fs/promises',
  'http',
  'https',
  'http2',
  'perf_hooks',
  'querystring',
  'readline',
  'tls',
  'v8',
  'vm',
  'worker_threads',
  'zlib',
];
const requireHere = createRequire(import.meta.url);
const lazyBuiltins = {
  name: 'lazy-builtins',
  setup(b) {
    const filter = new RegExp(`^(node:)?(${LAZY_BUILTINS.join('|')})$`);
    // The lazy module's own require of the real module resolves as usual (an external built-in).
    b.onResolve({ filter }, (args) => (args.namespace === 'lazy-builtin' ? undefined : { path: args.path.replace(/^node:/, ''), namespace: 'lazy-builtin' }));
    b.onLoad({ filter: /.*/, namespace: 'lazy-builtin' }, (args) => {
      const names = Object.getOwnPropertyNames(requireHere(`node:${args.path}`));
      return {
        contents: [
          'let real;',
          `const load = () => (real ??= require(${JSON.stringify(`node:${args.path}`)}));`,
          `for (const name of ${JSON.stringify(names)}) Object.defineProperty(module.exports, name, { enumerable: true, get: () => load()[name] });`,
        ].join('\n'),
        loader: 'js',
      };
    });
  },
};

/**
 * Packages the single binary carries in a second script, loaded when a route first uses one
 * (src/sea-cache.ts, seaExtra): every start, even `--version`, loads the main script in time
 * that grows with its size, and these are ~2 MB of it that a tcp route never runs. Only
 * packages that import nothing of ours. zod goes with the MCP SDK (which takes our zod
 * schemas, so both must be the one copy in this script; ajv comes with the SDK): a command
 * line's options need no zod (src/core/option-schema.ts); config files, the console API's
 * control messages and `ptybridge mcp` load it here.
 */
const SEA_EXTRAS = [
  'ws',
  'yaml',
  'prom-client',
  '@xterm/headless',
  '@xterm/addon-serialize',
  'ptybridge:web-assets',
  'zod',
  'zod/mini',
  '@modelcontextprotocol/sdk/server/mcp.js',
  '@modelcontextprotocol/sdk/server/stdio.js',
];
const seaExtrasPlugin = {
  name: 'sea-extras',
  setup(b) {
    const filter = new RegExp(`^(${SEA_EXTRAS.map((n) => n.replace(/[/.]/g, '\\$&')).join('|')})$`);
    const cache = JSON.stringify(src('sea-cache.ts'));
    b.onResolve({ filter }, (args) => ({ path: args.path, namespace: 'sea-extra' }));
    b.onLoad({ filter: /.*/, namespace: 'sea-extra' }, (args) => ({
      contents: `module.exports = require(${cache}).seaExtra(${JSON.stringify(args.path)});`,
      loader: 'js',
      resolveDir: ROOT,
    }));
  },
};

const common = {
  entryPoints: [src('main.ts')],
  bundle: true,
  platform: 'node',
  // ws uses `bufferutil` when it can load it; ours is plain JavaScript, four bytes a step.
  alias: { bufferutil: src('protocols/ws-mask.ts') },
  logLevel: 'warning',
};

// Native addons stay outside the npm bundle: they load from node_modules.
const npmBundle = build({
  ...common,
  outfile: `${ROOT}dist/ptybridge.mjs`,
  format: 'esm',
  target: 'node20',
  external: ['@lydell/node-pty', 'node-pty', 'serialport', '@serialport/*', 'playwright-core'],
  plugins: [webAssetsPlugin, zodEnglishOnly, lazyBuiltins],
  sourcemap: 'linked',
  define: { PTYBRIDGE_VERSION: JSON.stringify(pkg.version), PTYBRIDGE_SEA_BUNDLE: 'false' },
  banner: {
    // --single-threaded-gc: ptybridge's heap is a few MB but it churns buffers at hundreds of
    // MB/s; V8's concurrent marking spreads each of the many collections over helper threads
    // at more CPU than the collection itself (ws → tcp: −25 % CPU per MB, bench/results-ws.md).
    // It cannot be set from inside: v8.setFlagsFromString crashes V8's marker later.
    js: "#!/usr/bin/env -S node --single-threaded-gc\nimport { createRequire as __ptybCreateRequire } from 'node:module'; const require = __ptybCreateRequire(import.meta.url);",
  },
});

// A Node SEA runs one CommonJS script whose require() knows only built-in modules, so
// everything else is inside; import.meta.url becomes the executable's own file URL.
const seaBundle = build({
  ...common,
  outfile: `${ROOT}dist/ptybridge-sea.cjs`,
  format: 'cjs',
  target: 'node24',
  external: ['playwright-core'],
  plugins: [seaExtrasPlugin, seaNativesPlugin, zodEnglishOnly, lazyBuiltins],
  minifySyntax: true,
  define: {
    PTYBRIDGE_VERSION: JSON.stringify(pkg.version),
    PTYBRIDGE_SEA_BUNDLE: 'true',
    'import.meta.url': '__ptybImportMetaUrl',
  },
  banner: { js: "var __ptybImportMetaUrl = require('node:url').pathToFileURL(__filename).href;" },
});

// The second script of the single binary: SEA_EXTRAS by name, each evaluated on first use.
const seaExtras = build({
  ...common,
  entryPoints: undefined,
  stdin: {
    contents: `module.exports = {\n${SEA_EXTRAS.map((n) => `  ${JSON.stringify(n)}: () => require(${JSON.stringify(n)}),`).join('\n')}\n};\n`,
    resolveDir: ROOT,
    sourcefile: 'sea-extras.cjs',
    loader: 'js',
  },
  outfile: `${ROOT}dist/ptybridge-sea-extras.cjs`,
  format: 'cjs',
  target: 'node24',
  plugins: [webAssetsPlugin, zodEnglishOnly, lazyBuiltins],
  minifySyntax: true,
});

await Promise.all([npmBundle, seaBundle, seaExtras]);
chmodSync(`${ROOT}dist/ptybridge.mjs`, 0o755);
// The npm bundle's own addon (malloc_trim, for the heap of freed screen models): optional,
// since an install may have no C compiler; ptybridge then keeps what glibc holds.
if (process.platform === 'linux') {
  try {
    buildNative();
  } catch (err) {
    process.stderr.write(`${err.message.split('\n')[0]} (optional: freed screen models stay in glibc's heap)\n`);
  }
}

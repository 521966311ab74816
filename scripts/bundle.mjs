// Bundles src/ into dist/ptybridge.mjs: one file for `npm start`, the tests and the SEA build.
// The browser terminal (src/web/client.ts + xterm.js + CSS) is built first and carried inside
// that same file as the generated module `ptybridge:web-assets`: no CDN, no asset directory.
import { build } from 'esbuild';
import { chmodSync, readFileSync } from 'node:fs';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
const src = (p) => new URL(`../src/${p}`, import.meta.url).pathname;
// Native addons stay outside the bundle: they are loaded from node_modules (or, in the
// single binary, from the SEA asset cache).
const external = ['@lydell/node-pty', 'node-pty', 'serialport', '@serialport/*', 'playwright-core'];

/** The terminal page's files, by name: { type, body }. */
async function webAssets() {
  const out = await build({
    entryPoints: { terminal: src('web/client.ts') },
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

await build({
  entryPoints: [src('main.ts')],
  outfile: new URL('../dist/ptybridge.mjs', import.meta.url).pathname,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  external,
  plugins: [webAssetsPlugin],
  // ws uses `bufferutil` when it can load it; ours is plain JavaScript, four bytes a step.
  alias: { bufferutil: src('protocols/ws-mask.ts') },
  sourcemap: 'linked',
  define: { PTYBRIDGE_VERSION: JSON.stringify(pkg.version) },
  banner: {
    // --single-threaded-gc: ptybridge's heap is a few MB but it churns buffers at hundreds of
    // MB/s; V8's concurrent marking spreads each of the many collections over helper threads
    // at more CPU than the collection itself (ws → tcp: −25 % CPU per MB, bench/results-ws.md).
    // It cannot be set from inside: v8.setFlagsFromString crashes V8's marker later.
    js: "#!/usr/bin/env -S node --single-threaded-gc\nimport { createRequire as __ptybCreateRequire } from 'node:module'; const require = __ptybCreateRequire(import.meta.url);",
  },
  logLevel: 'warning',
});
chmodSync(new URL('../dist/ptybridge.mjs', import.meta.url), 0o755);

// Bundles src/ twice: dist/ptybridge.mjs (npm start, the tests) and dist/ptybridge-sea.cjs (what the single binary carries).
import { build } from 'esbuild';
import { chmodSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const pkg = JSON.parse(readFileSync(`${ROOT}package.json`, 'utf8'));
const entry = `${ROOT}src/main.ts`;
const seaCache = `${ROOT}src/sea-cache.ts`;

/**
 * In the SEA bundle the JS of node-pty and serialport is bundled, and the two modules that
 * find their `.node` file on disk (node-pty's requireBinary, serialport's node-gyp-build
 * call) are replaced by a call to the SEA asset cache.
 */
const seaNatives = {
  name: 'sea-natives',
  setup(b) {
    const shim = (code) => () => ({ contents: code, loader: 'js', resolveDir: ROOT });
    const cache = JSON.stringify(seaCache);
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

const common = {
  entryPoints: [entry],
  bundle: true,
  platform: 'node',
  logLevel: 'warning',
};

// Native addons stay outside the npm bundle: they load from node_modules.
const npmBundle = build({
  ...common,
  outfile: `${ROOT}dist/ptybridge.mjs`,
  format: 'esm',
  target: 'node20',
  external: ['@lydell/node-pty', 'node-pty', 'serialport', '@serialport/*', 'playwright-core'],
  sourcemap: 'linked',
  define: { PTYBRIDGE_VERSION: JSON.stringify(pkg.version), PTYBRIDGE_SEA_BUNDLE: 'false' },
  banner: {
    js: "#!/usr/bin/env node\nimport { createRequire as __ptybCreateRequire } from 'node:module'; const require = __ptybCreateRequire(import.meta.url);",
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
  plugins: [seaNatives],
  minifySyntax: true,
  define: {
    PTYBRIDGE_VERSION: JSON.stringify(pkg.version),
    PTYBRIDGE_SEA_BUNDLE: 'true',
    'import.meta.url': '__ptybImportMetaUrl',
  },
  banner: { js: "var __ptybImportMetaUrl = require('node:url').pathToFileURL(__filename).href;" },
});

await Promise.all([npmBundle, seaBundle]);
chmodSync(`${ROOT}dist/ptybridge.mjs`, 0o755);

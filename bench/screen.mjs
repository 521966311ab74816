// Benchmark of the hub's screen model (not a test): CPU per 100 MB with replay=screen vs replay=bytes (and socat) at 1–5 byte
// writes and in bulk, then 1000 idle pty consoles with a model each: RSS and how long a joiner waits for its screen.
// Run: npm run build:js && node bench/screen.mjs      (TINY_MB, BULK_MB, CONSOLES, ROUNDS to scale; PTYB= another build)
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { freePort, lineReader, rssMiB as rss, treeCpu } from './proc.mjs';

// PTYB=/tmp/base.mjs measures another build (the one before a change) in the same conditions.
const PTYB = process.env.PTYB ?? fileURLToPath(new URL('../dist/ptybridge.mjs', import.meta.url));
const TINY = Number(process.env.TINY_MB ?? 4) * 1e6;
const BULK = Number(process.env.BULK_MB ?? 100) * 1e6;
const CONSOLES = Number(process.env.CONSOLES ?? 1000);
const ROUNDS = Number(process.env.ROUNDS ?? 2);
const QUIET_S = Number(process.env.PTYBRIDGE_SCREEN_QUIET_MS ?? 60_000) / 1000;

// The device: pty pairs whose masters write terminal text (lines, colors, cursor moves), as a console does.
const WRITER = String.raw`
import os, sys, tty, resource
resource.setrlimit(resource.RLIMIT_NOFILE, (resource.getrlimit(resource.RLIMIT_NOFILE)[1],) * 2)
mode, n = sys.argv[1], int(sys.argv[2])
line = b"\x1b[32m-rw-r--r--\x1b[0m 1 root root  4096 Nov 30 07:00 \x1b[1;34mfile-%06d\x1b[0m some text to fill the line\r\n"
text = b"".join(line % i for i in range(2000))
if mode == "consoles":
    ms = []
    for i in range(n):
        m, s = os.openpty(); tty.setraw(s)
        print(os.ttyname(s), flush=True); ms.append((m, s))
    sys.stdin.readline()
    banner = b"".join(b"console %d: boot message line %d\r\n" % (i, j) for i in range(1) for j in range(30))
    for i, (m, s) in enumerate(ms):
        os.write(m, banner + b"\r\nlogin: ")
    print("done", flush=True)
    sys.stdin.readline()
    sys.exit(0)
m, s = os.openpty(); tty.setraw(s)
print(os.ttyname(s), flush=True)
sys.stdin.readline()
off, i, sizes, w = 0, 0, [1, 3, 5, 2, 4], os.write
view = memoryview(text * 2)
while off < n:
    k = sizes[i % 5] if mode == "tiny" else 65536
    i += 1
    k = min(k, n - off)
    j = off % len(text)
    off += w(m, view[j:j + k])
print("done", flush=True)
sys.stdin.readline()
`;

function writer(args) {
  const w = spawn('/usr/bin/python3', ['-c', WRITER, ...args], { stdio: ['pipe', 'pipe', 'inherit'] });
  const line = lineReader(w.stdout);
  return { w, line };
}

/** Starts a reader (ptybridge or socat), returns its process and the port of the hub's tcp door if any. */
function started(cmd, args) {
  const p = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  p.stderr.setEncoding('utf8');
  let err = '';
  const port = new Promise((resolve) =>
    p.stderr.on('data', (t) => {
      err += t;
      const m = /listening on (?:tcp|ws) [\d.]+:(\d+)/.exec(err);
      if (m) resolve(Number(m[1]));
    }),
  );
  return { p, port, err: () => err };
}

/** One run: `total` bytes from the pty through the reader to a counting TCP peer; CPU of the reader. */
async function run(name, mode, total, reader) {
  const wr = writer([mode, String(total)]);
  const slave = await wr.line();
  let got = 0;
  let done;
  const finished = new Promise((r) => (done = r));
  let proc;
  if (reader === 'socat') {
    const server = net.createServer((s) =>
      s.on('data', (c) => {
        got += c.length;
        if (got >= total) done();
      }),
    );
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    proc = started('socat', ['-u', `OPEN:${slave},rawer`, `TCP:127.0.0.1:${server.address().port}`]);
    finished.then(() => server.close());
    await new Promise((r) => setTimeout(r, 300));
  } else {
    proc = started(process.execPath, [PTYB, '-v', `pty:${slave}?replay=${reader}`, 'tcp-listen:0']);
    const s = net.connect(await proc.port, '127.0.0.1');
    s.on('data', (c) => {
      got += c.length;
      if (got >= total) done();
    });
    await once(s, 'connect');
    finished.then(() => s.destroy());
    await new Promise((r) => setTimeout(r, 300));
  }
  const cpu0 = treeCpu(proc.p.pid);
  const t0 = process.hrtime.bigint();
  wr.w.stdin.write('go\n');
  await finished;
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  // The model may still be parsing what it queued: its CPU counts too, so wait until it settles.
  await new Promise((r) => setTimeout(r, 1500));
  const cpu = treeCpu(proc.p.pid) - cpu0;
  const skipped = /skipped/.test(proc.err());
  proc.p.kill('SIGTERM');
  wr.w.kill();
  await once(proc.p, 'exit');
  const r = { name, secs, rate: total / secs / 1e6, per100: (cpu * 100e6) / total, skipped };
  console.log(
    `${mode.padEnd(5)} ${name.padEnd(15)} ${(total / 1e6).toFixed(0)} MB: ${secs.toFixed(2)} s, ${r.rate.toFixed(1)} MB/s, ${r.per100.toFixed(2)} CPU s per 100 MB`,
  );
  return r;
}

const med = (a) => [...a].sort((x, y) => x - y)[a.length >> 1];
const pct = (a, p) => [...a].sort((x, y) => x - y)[Math.min(a.length - 1, Math.floor((a.length * p) / 100))];

async function throughput(mode, total) {
  const res = { screen: [], bytes: [], socat: [] };
  for (let i = 0; i < ROUNDS; i++) {
    for (const reader of ['screen', 'bytes', 'socat']) res[reader].push(await run(reader === 'socat' ? 'socat' : `replay=${reader}`, mode, total, reader));
  }
  const m = (k, f) => med(res[k].map((r) => r[f]));
  console.log(
    `${mode}: screen/bytes CPU per 100 MB ${(m('screen', 'per100') / m('bytes', 'per100')).toFixed(2)}x, throughput ${(m('screen', 'rate') / m('bytes', 'rate')).toFixed(2)}x; medians screen ${m('screen', 'per100').toFixed(2)} / bytes ${m('bytes', 'per100').toFixed(2)} / socat ${m('socat', 'per100').toFixed(2)} CPU s per 100 MB, ${m('screen', 'rate').toFixed(1)} / ${m('bytes', 'rate').toFixed(1)} / ${m('socat', 'rate').toFixed(1)} MB/s`,
  );
}

/** CONSOLES pty consoles on one ws-listen port, each with a banner and a prompt; RSS, and joiners' wait for the first frame. */
async function consoles(replay) {
  const wr = writer(['consoles', String(CONSOLES)]);
  const slaves = [];
  for (let i = 0; i < CONSOLES; i++) slaves.push(await wr.line());
  const dir = mkdtempSync(path.join(tmpdir(), 'ptyb-bench-screen-'));
  const port = await freePort();
  const routes = slaves.map((s, i) => `  - { name: c${i}, left: "pty:${s}?replay=${replay}", right: "ws-listen:${port}/c${i}?token=bench" }\n`).join('');
  writeFileSync(path.join(dir, 'c.yaml'), `version: 1\nroutes:\n${routes}`);
  const pb = started(process.execPath, [PTYB, '-q', '--config', path.join(dir, 'c.yaml')]);
  // -q hides "listening on": wait for the port instead.
  for (let i = 0; i < 600; i++) {
    const ok = await new Promise((r) => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.destroy();
        r(true);
      });
      s.on('error', () => r(false));
    });
    if (ok) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  // Every route opens its pty (and runs stty) before it mounts its path: wait for the last one.
  for (let i = 0; i < 1200; i++) {
    const ok = await new Promise((r) => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}/c${CONSOLES - 1}`, { headers: { authorization: 'Bearer bench' } });
      ws.once('open', () => {
        ws.terminate();
        r(true);
      });
      ws.once('error', () => r(false));
    });
    if (ok) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  await new Promise((r) => setTimeout(r, 1000));
  const rssEmpty = rss(pb.p.pid);
  wr.w.stdin.write('go\n');
  await wr.line();
  await new Promise((r) => setTimeout(r, 2000));
  const rssFed = rss(pb.p.pid);
  const waits = [];
  for (let i = 0; i < CONSOLES; i++) {
    const t0 = process.hrtime.bigint();
    const ws = new WebSocket(`ws://127.0.0.1:${port}/c${i}`, { headers: { authorization: 'Bearer bench' } });
    await new Promise((resolve, reject) => {
      ws.once('message', resolve);
      ws.once('error', reject);
    });
    waits.push(Number(process.hrtime.bigint() - t0) / 1e6);
    ws.terminate();
  }
  const rssJoined = rss(pb.p.pid);
  // The models free themselves after QUIET_S of no output (src/router/screen.ts; PTYBRIDGE_SCREEN_QUIET_MS, 60 s by default), swept every QUIET_S / 2.
  // The sweep runs every QUIET_S / 2; the heap is given back 7 s after it (src/router/heap-release.ts).
  await new Promise((r) => setTimeout(r, (QUIET_S * 1.5 + 10) * 1000));
  const rssQuiet = rss(pb.p.pid);
  const waitsQuiet = [];
  for (let i = 0; i < CONSOLES; i++) {
    const t0 = process.hrtime.bigint();
    const ws = new WebSocket(`ws://127.0.0.1:${port}/c${i}`, { headers: { authorization: 'Bearer bench' } });
    await new Promise((resolve, reject) => {
      ws.once('message', resolve);
      ws.once('error', reject);
    });
    waitsQuiet.push(Number(process.hrtime.bigint() - t0) / 1e6);
    ws.terminate();
  }
  pb.p.kill('SIGTERM');
  await once(pb.p, 'exit');
  wr.w.stdin.write('bye\n');
  rmSync(dir, { recursive: true, force: true });
  console.log(
    `${CONSOLES} consoles replay=${replay}: RSS ${rssEmpty.toFixed(0)} MiB opened, ${rssFed.toFixed(0)} MiB after a 30-line banner + prompt each, ${rssJoined.toFixed(0)} MiB after one joiner each; joiner wait (ws connect to first frame) p50 ${pct(waits, 50).toFixed(1)} ms, p99 ${pct(waits, 99).toFixed(1)} ms, max ${Math.max(...waits).toFixed(1)} ms; ${rssQuiet.toFixed(0)} MiB after ${QUIET_S * 1.5 + 10} s quiet, joiner wait then p50 ${pct(waitsQuiet, 50).toFixed(1)} ms, p99 ${pct(waitsQuiet, 99).toFixed(1)} ms`,
  );
  return { rssFed, p99: pct(waits, 99) };
}

const only = process.argv[2];
if (!only || only === 'tiny') await throughput('tiny', TINY);
if (!only || only === 'bulk') await throughput('bulk', BULK);
if (!only || only === 'consoles') {
  const s = await consoles('screen');
  const b = await consoles('bytes');
  console.log(
    `consoles: screen/bytes RSS ${(s.rssFed / b.rssFed).toFixed(2)}x (goal < 400 MB: ${s.rssFed < 400 ? 'met' : 'not met'}), joiner p99 ${s.p99.toFixed(1)} ms (goal < 50 ms: ${s.p99 < 50 ? 'met' : 'not met'})`,
  );
}

// A page without a browser: does the server keep a page's credit window full? It announces a window (WINDOW bytes, the
// page's 1 MiB by default), "parses" at RATE MB/s (default 8), acks every window/8 as the page does, and says how long it
// waited for data. Usage: npm run build:js && RATE=20 node bench/credit-page-sim.mjs FILE   (the route cats FILE on a pty)
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
const here = (p) => fileURLToPath(new URL(p, import.meta.url));
const RATE = Number(process.env.RATE ?? 8) * 1e6;
const WINDOW = Number(process.env.WINDOW ?? 1 << 20);
const file = process.argv[2];
const p = spawn(process.execPath, [here('../dist/ptybridge.mjs'), `exec:sh ${here('./browser-flood.sh')} cat ${file}`, 'ws-listen:0?token=bench&ping=0'], {
  stdio: ['ignore', 'ignore', 'pipe'],
});
let err = '';
const port = await new Promise((res) =>
  p.stderr.on('data', (t) => {
    err += t;
    const m = /listening on ws \S+:(\d+)/.exec(err);
    if (m) res(Number(m[1]));
  }),
);
const ws = new WebSocket(`ws://127.0.0.1:${port}/`, ['ptybridge', 'ptybridge-token.' + Buffer.from('bench').toString('base64url')]);
const DONE = Buffer.from('\x1b]0;bench-done\x07');
let ready = false,
  go = 0,
  queue = 0,
  parsedSinceAck = 0,
  starvedMs = 0,
  starvedAt = 0,
  msgs = 0,
  bytes = 0,
  tail = Buffer.alloc(0),
  maxQ = 0;
ws.on('open', () => {
  ws.send(JSON.stringify({ type: 'credit', window: WINDOW }));
  ws.send(JSON.stringify({ type: 'resize', cols: 200, rows: 60 }));
});
let endSeen = false;
ws.on('message', (d, bin) => {
  if (!bin) return;
  if (!ready) {
    queue += d.length;
    tail = Buffer.concat([tail, d]);
    if (tail.includes('ready')) {
      ready = true;
      ws.send(Buffer.from('\r'));
    }
    return;
  }
  if (!go) go = performance.now();
  if (starvedAt) {
    starvedMs += performance.now() - starvedAt;
    starvedAt = 0;
  }
  msgs++;
  bytes += d.length;
  queue += d.length;
  maxQ = Math.max(maxQ, queue);
  const last = Buffer.concat([tail, d]).subarray(-64);
  tail = last;
  if (last.includes(DONE)) endSeen = true;
});
let lastT = performance.now();
const iv = setInterval(() => {
  const now = performance.now();
  const budget = ((now - lastT) / 1000) * RATE;
  lastT = now;
  const n = Math.min(queue, budget);
  queue -= n;
  parsedSinceAck += n;
  if (parsedSinceAck >= WINDOW / 8 || (queue === 0 && parsedSinceAck > 0)) {
    ws.send(JSON.stringify({ type: 'ack', bytes: Math.round(parsedSinceAck) }));
    parsedSinceAck = 0;
  }
  if (ready && go && queue === 0 && !starvedAt && !endSeen) starvedAt = now;
  if (endSeen && queue === 0) {
    clearInterval(iv);
    const ms = now - go;
    console.log(
      `rate ${RATE / 1e6} MB/s window ${WINDOW}: ${bytes} B in ${ms.toFixed(0)} ms = ${(bytes / ms / 1000).toFixed(2)} MB/s, starved ${starvedMs.toFixed(0)} ms, ${msgs} msgs, max queue ${maxQ}`,
    );
    ws.close();
    p.kill();
    process.exit(0);
  }
}, 4);

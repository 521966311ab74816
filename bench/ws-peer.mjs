// Benchmark peer: a minimal WebSocket client on a raw socket and a TCP server, in one process, on both sides of a forwarder.
// Driven over stdin/stdout by bench/ws.mjs so that it can sample the forwarder's CPU around the transfer.
// The client is hand-rolled to cost the machine as little as possible (it shares 2 cores with the
// forwarder): it sends one pre-masked frame over and over (a random key per run; the forwarder
// still unmasks every byte), and counts received payload bytes by parsing frame headers only.
import { randomBytes } from 'node:crypto';
import { connectWs, frameCounter } from './ws-client.mjs';
import { writeSync } from 'node:fs';
import net from 'node:net';
import { createInterface } from 'node:readline';

const [mode, bytesArg, frameArg, warmArg] = process.argv.slice(2); // mode: tcp2ws | ws2tcp; frame: the upstream's write size (tcp2ws) or the client's frame size (ws2tcp)
const total = Number(bytesArg);
const frame = Number(frameArg ?? 65536);
const warm = Number(warmArg ?? 0); // bytes moved before 'ready' (the forwarder's JIT warm-up)
const payload = Buffer.alloc(frame, 0x5a);
let upstream;
const gotUpstream = new Promise((r) => (upstream = r));
// TCP_NODELAY, as VNC servers set it: each write leaves at once, the forwarder's worst case.
const server = net.createServer((s) => (s.setNoDelay(true), upstream(s)));
server.listen(0, '127.0.0.1', () => console.log(`tcp ${server.address().port}`));

/** One masked binary frame carrying `payload` (client → server frames must be masked). */
function maskedFrame() {
  const n = payload.length;
  const head =
    n < 126
      ? Buffer.from([0x82, 0x80 | n])
      : n < 65536
        ? Buffer.from([0x82, 0x80 | 126, n >> 8, n & 255])
        : Buffer.concat([
            Buffer.from([0x82, 0x80 | 127]),
            (() => {
              const b = Buffer.alloc(8);
              b.writeBigUInt64BE(BigInt(n));
              return b;
            })(),
          ]);
  const key = randomBytes(4);
  const body = Buffer.from(payload.map((b, i) => b ^ key[i & 3]));
  return Buffer.concat([head, key, body]);
}

/** Moves `bytes` one way; resolves when the receiving side has counted them all. */
function transfer(ws, rest, sock, bytes) {
  return new Promise((done) => {
    if (mode === 'tcp2ws') {
      let got = 0;
      const count = frameCounter((n) => {
        got += n;
        if (got >= bytes) ws.off('data', count), done();
      });
      ws.on('data', count);
      if (rest.length) count(rest);
      ws.resume();
      // One write(2) of exactly `frame` bytes per write, as socat (-b 8192) or a VNC server
      // does: sock.write would gather queued chunks into one large writev while the kernel
      // is full. Written synchronously on the fd until EAGAIN; then one write through Node
      // waits for room, and its callback resumes the loop.
      // RATE (MB/s, env PTYB_WS_RATE) paces the writes: the source slower than the forwarder,
      // so that it reads each write as it comes (one read, one frame per write).
      const fd = sock._handle.fd;
      const rate = Number(process.env.PTYB_WS_RATE ?? 0) * 1e6;
      const t0 = process.hrtime.bigint();
      const allowed = () => (rate ? (Number(process.hrtime.bigint() - t0) / 1e9) * rate : Infinity);
      let sent = 0;
      const pump = () => {
        while (sent < bytes) {
          if (sent >= allowed()) return setTimeout(pump, 1);
          let n;
          try {
            n = writeSync(fd, payload);
          } catch (err) {
            if (err.code !== 'EAGAIN') throw err;
            sent += payload.length;
            return sock.write(payload, pump);
          }
          sent += n;
          if (n < payload.length) return sock.write(payload.subarray(n), pump);
        }
      };
      pump();
    } else {
      let got = 0;
      const onData = (d) => {
        got += d.length;
        if (got >= bytes) sock.off('data', onData), done();
      };
      sock.on('data', onData);
      const f = maskedFrame();
      let sent = 0;
      const pump = () => {
        while (sent < bytes) {
          sent += payload.length;
          if (!ws.write(f)) return ws.once('drain', pump);
        }
      };
      pump();
    }
  });
}

let ws;
let rest = Buffer.alloc(0);
const lines = createInterface({ input: process.stdin });
lines.on('line', async (line) => {
  const [cmd, arg] = line.split(' ');
  if (cmd === 'go') {
    ({ socket: ws, rest } = await connectWs(arg));
    const sock = await gotUpstream;
    if (warm > 0) await transfer(ws, rest, sock, warm), (rest = Buffer.alloc(0));
    console.log('ready');
  } else if (cmd === 'start') {
    const sock = await gotUpstream;
    const t0 = process.hrtime.bigint();
    await transfer(ws, rest, sock, total);
    console.log(`done ${Number(process.hrtime.bigint() - t0) / 1e6}`);
  } else if (cmd === 'quit') {
    ws?.destroy();
    (await gotUpstream).destroy();
    server.close();
    process.exit(0);
  }
});

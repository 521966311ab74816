// Benchmark peer: a minimal WebSocket client on a raw socket and a TCP server, in one process, on both sides of a forwarder.
// Driven over stdin/stdout by bench/ws.mjs so that it can sample the forwarder's CPU around the transfer.
// The client is hand-rolled to cost the machine as little as possible (it shares 2 cores with the
// forwarder): it sends one pre-masked frame over and over (a random key per run; the forwarder
// still unmasks every byte), and counts received payload bytes by parsing frame headers only.
import { createHash, randomBytes } from 'node:crypto';
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
// PTYB_WS_PREFRAMED=1 (tcp2ws, the `ceiling` kind of bench/ws.mjs): the TCP side is itself the WebSocket server behind a
// byte relay (socat). It answers the upgrade and writes whole frames, so the relay does no WebSocket work at all: what
// the source, the sink and a C relay reach together is the most any forwarder could reach here.
const PREFRAMED = process.env.PTYB_WS_PREFRAMED === '1';
/** The source's unit of writing: the payload, or (PREFRAMED) the payload as one unmasked binary frame. */
const unit = PREFRAMED ? Buffer.concat([frameHead(payload.length, false), payload]) : payload;
// TCP_NODELAY, as VNC servers set it: each write leaves at once, the forwarder's worst case.
const server = net.createServer((s) => {
  s.setNoDelay(true);
  if (!PREFRAMED) return upstream(s);
  let got = '';
  const onData = (d) => {
    got += d.toString('latin1');
    if (!got.includes('\r\n\r\n')) return;
    s.off('data', onData);
    const key = /sec-websocket-key: *(\S+)/i.exec(got)?.[1] ?? '';
    const accept = createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
    s.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
    upstream(s);
  };
  s.on('data', onData);
});
server.listen(0, '127.0.0.1', () => console.log(`tcp ${server.address().port}`));

/** A binary frame's header for `n` payload bytes, masked (client → server) or not. */
function frameHead(n, masked) {
  const m = masked ? 0x80 : 0;
  if (n < 126) return Buffer.from([0x82, m | n]);
  if (n < 65536) return Buffer.from([0x82, m | 126, n >> 8, n & 255]);
  const b = Buffer.alloc(10);
  b[0] = 0x82;
  b[1] = m | 127;
  b.writeBigUInt64BE(BigInt(n), 2);
  return b;
}

/** One masked binary frame carrying `payload` (client → server frames must be masked). */
function maskedFrame() {
  const head = frameHead(payload.length, true);
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
      // Counted in bytes on the wire: `unit` per write (PREFRAMED: the frame's header too).
      const fd = sock._handle.fd;
      const wire = (bytes / payload.length) * unit.length;
      const rate = Number(process.env.PTYB_WS_RATE ?? 0) * 1e6 * (unit.length / payload.length);
      const t0 = process.hrtime.bigint();
      const allowed = () => (rate ? (Number(process.hrtime.bigint() - t0) / 1e9) * rate : Infinity);
      let sent = 0;
      const pump = () => {
        while (sent < wire) {
          if (sent >= allowed()) return setTimeout(pump, 1);
          let n;
          try {
            n = writeSync(fd, unit);
          } catch (err) {
            if (err.code !== 'EAGAIN') throw err;
            sent += unit.length;
            return sock.write(unit, pump);
          }
          sent += n;
          if (n < unit.length) return sock.write(unit.subarray(n), pump);
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

// Benchmark peer: a `ws` client and a TCP server in one process, on both sides of a forwarder.
// Driven over stdin/stdout by bench/ws.mjs so that it can sample the forwarder's CPU around the transfer.
import net from 'node:net';
import { createInterface } from 'node:readline';
import WebSocket from 'ws';

const [mode, bytesArg, frameArg] = process.argv.slice(2); // mode: tcp2ws | ws2tcp
const total = Number(bytesArg);
const frame = Number(frameArg ?? 65536);
const payload = Buffer.alloc(frame, 0x5a);
let upstream;
const gotUpstream = new Promise((r) => (upstream = r));
const server = net.createServer((s) => upstream(s));
server.listen(0, '127.0.0.1', () => console.log(`tcp ${server.address().port}`));

let ws;
const lines = createInterface({ input: process.stdin });
lines.on('line', async (line) => {
  const [cmd, arg] = line.split(' ');
  if (cmd === 'go') {
    ws = new WebSocket(arg, ['binary'], { perMessageDeflate: false });
    await new Promise((r, j) => (ws.once('open', r), ws.once('error', j)));
    await gotUpstream;
    console.log('ready');
  } else if (cmd === 'start') {
    const sock = await gotUpstream;
    const t0 = process.hrtime.bigint();
    const finish = () => console.log(`done ${Number(process.hrtime.bigint() - t0) / 1e6}`);
    if (mode === 'tcp2ws') {
      let got = 0;
      ws.on('message', (d) => {
        got += d.length;
        if (got >= total) finish();
      });
      let sent = 0;
      const pump = () => {
        while (sent < total) {
          sent += payload.length;
          if (!sock.write(payload)) return sock.once('drain', pump);
        }
      };
      pump();
    } else {
      let got = 0;
      sock.on('data', (d) => {
        got += d.length;
        if (got >= total) finish();
      });
      let sent = 0;
      // Masked client frames, with at most 4 MiB queued in the client.
      const pump = () => {
        while (sent < total && ws.bufferedAmount < 4 * 1024 * 1024) {
          sent += payload.length;
          ws.send(payload, { binary: true });
        }
        if (sent < total) setImmediate(pump);
      };
      pump();
    }
  } else if (cmd === 'quit') {
    ws?.terminate();
    (await gotUpstream).destroy();
    server.close();
    process.exit(0);
  }
});

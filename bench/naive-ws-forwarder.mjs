// Benchmark forwarder: the least a Node program does to put a TCP service behind a WebSocket (the `ws` package, no flow
// control, no framing of its own): a floor for what any tcp → ws forwarder on Node costs per wakeup. Not ptybridge.
// Usage (as bench/ws.mjs starts it): node bench/naive-ws-forwarder.mjs tcp:127.0.0.1:PORT   → prints "listening on ws 127.0.0.1:P"
import net from 'node:net';
import { WebSocketServer } from 'ws';

const [, host, port] = /^tcp:(.+):(\d+)$/.exec(process.argv[2] ?? '') ?? [];
if (!port) throw new Error('usage: naive-ws-forwarder.mjs tcp:HOST:PORT');
const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
wss.on('listening', () => console.error(`listening on ws 127.0.0.1:${wss.address().port}`));
wss.on('connection', (ws) => {
  const tcp = net.connect(Number(port), host);
  tcp.on('data', (d) => ws.send(d));
  ws.on('message', (d) => tcp.write(d));
  tcp.on('close', () => ws.close());
  ws.on('close', () => tcp.destroy());
  tcp.on('error', () => ws.terminate());
});

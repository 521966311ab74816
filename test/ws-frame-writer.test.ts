// The hand-written binary frame writer (src/protocols/ws-frame.ts) and WsStream on top of it: exact bytes and sizes through a real `ws` client, and bounded memory for a peer that stops reading.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import WebSocket, { WebSocketServer } from 'ws';
import { sendBinary } from '../src/protocols/ws-frame.js';
import { WsStream } from '../src/protocols/websockify.js';
import { createLogger } from '../src/log.js';
import { until } from './helpers/until.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** A ws server and a ws client connected to it (binary subprotocol); the server's side of the connection. */
async function pair(): Promise<{ server: WebSocket; client: WebSocket; close: () => Promise<void> }> {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate: false, maxPayload: 64 * 1024 * 1024 });
  await once(wss, 'listening');
  const accepted = once(wss, 'connection') as Promise<[WebSocket]>;
  const client = new WebSocket(`ws://127.0.0.1:${(wss.address() as AddressInfo).port}/`, ['binary'], {
    perMessageDeflate: false,
    maxPayload: 64 * 1024 * 1024,
  });
  await once(client, 'open');
  const [server] = await accepted;
  return {
    server,
    client,
    close: async () => {
      client.terminate();
      server.terminate();
      await new Promise<void>((r) => wss.close(() => r()));
    },
  };
}

/** Splits `data` into up to three uneven chunks (the payload of one frame written without joining them). */
function split(data: Buffer): Buffer[] {
  if (data.length < 3) return [data];
  const a = Math.floor(data.length / 7);
  const b = Math.floor((data.length * 5) / 9);
  return [data.subarray(0, a), data.subarray(a, b), data.subarray(b)];
}

test('sendBinary: frames of 0, 1, 125, 126, 65535, 65536 and 1 MiB arrive whole, one message each, exact bytes', { timeout: 60_000 }, async () => {
  const { server, client, close } = await pair();
  try {
    const sizes = [0, 1, 125, 126, 127, 1024, 1025, 65535, 65536, 65537, 1024 * 1024];
    const got: { data: Buffer; isBinary: boolean }[] = [];
    client.on('message', (data: Buffer, isBinary: boolean) => got.push({ data: Buffer.from(data), isBinary }));
    const sent: { data: Buffer; isBinary: boolean }[] = [];
    const send = (chunks: Buffer[]) => new Promise<void>((r, j) => sendBinary(server, chunks, (err) => (err ? j(err) : r())));
    for (const size of sizes) {
      const data = randomBytes(size);
      // Each size once as one chunk and once as several: the same message either way.
      sent.push({ data, isBinary: true }, { data, isBinary: true });
      await send([data]);
      await send(split(data));
    }
    // A ping and a text message from ws itself between data frames stay whole and in order.
    server.ping();
    server.send('between');
    sent.push({ data: Buffer.from('between'), isBinary: false });
    const last = randomBytes(70_000);
    sent.push({ data: last, isBinary: true });
    await send(split(last));
    await until(() => got.length === sent.length, { what: 'every message' });
    assert.deepEqual(
      got.map((g) => [g.data.length, g.isBinary]),
      sent.map((s) => [s.data.length, s.isBinary]),
    );
    got.forEach((g, i) => assert.equal(sha(g.data), sha(sent[i]!.data), `message ${i} (${sent[i]!.data.length} bytes)`));
  } finally {
    await close();
  }
});

test('WsStream over sendBinary: 64 MiB of uneven writes arrive exact, and a peer that stops reading holds the source back (bounded queue)', {
  timeout: 180_000,
}, async () => {
  const { server, client, close } = await pair();
  try {
    const stream = new WsStream(server, { framing: 'binary', label: 'test', log: createLogger('error') });
    const total = 64 * 1024 * 1024;
    const data = randomBytes(total);
    let read = 0;
    let seed = 11;
    const source = new Readable({
      highWaterMark: 64 * 1024,
      read() {
        seed = (seed * 1103515245 + 12345) % 2 ** 31;
        const n = Math.min(total - read, 1 + (seed % (96 * 1024)));
        if (n === 0) return void this.push(null);
        this.push(data.subarray(read, read + n));
        read += n;
      },
    });
    const parts: Buffer[] = [];
    let got = 0;
    client.on('message', (d: Buffer) => {
      parts.push(Buffer.from(d));
      got += d.length;
    });
    // The peer reads nothing: what the source gives is bounded by WsStream's buffer, one frame
    // at the socket and the kernel's socket buffers, not by the 64 MiB it has.
    client.pause();
    source.pipe(stream);
    let largest = 0;
    const watch = setInterval(() => {
      largest = Math.max(largest, stream.writableLength + server.bufferedAmount);
    }, 5);
    try {
      await until(() => source.isPaused() && stream.writableLength >= stream.writableHighWaterMark, { what: 'the source held back' });
      const heldAt = read;
      assert.ok(heldAt < 16 * 1024 * 1024, `the source gave ${heldAt} bytes to a peer that reads nothing`);
      largest = Math.max(largest, stream.writableLength + server.bufferedAmount);
      // WsStream's buffer (256 KiB) plus the chunk that passed it, plus one frame in the socket (at most the buffer, joined).
      assert.ok(largest <= 1024 * 1024, `queued ${largest} bytes for a peer that reads nothing`);
      client.resume();
      await until(() => got === total, { what: 'all 64 MiB', timeout: 150_000 });
    } finally {
      clearInterval(watch);
    }
    assert.ok(largest <= 1024 * 1024, `queued ${largest} bytes at most`);
    assert.equal(sha(Buffer.concat(parts)), sha(data));
  } finally {
    await close();
  }
});

test('WsStream under a credit window: uneven writes, cut at the window edge inside and between chunks, arrive exact and in order, never more than the window unacknowledged', {
  timeout: 120_000,
}, async () => {
  const { server, client, close } = await pair();
  try {
    const stream = new WsStream(server, { framing: 'plain', label: 'test', log: createLogger('error') });
    // The smallest window a page may ask for: most writes (and the chunks a _writev joins) cross its edge.
    const window = 16 * 1024;
    client.send(JSON.stringify({ type: 'credit', window }));
    await until(() => (stream as unknown as { credit?: unknown }).credit !== undefined, { what: 'the window announced' });
    const total = 8 * 1024 * 1024;
    const data = randomBytes(total);
    let read = 0;
    let seed = 7;
    const source = new Readable({
      highWaterMark: 16 * 1024,
      read() {
        seed = (seed * 1103515245 + 12345) % 2 ** 31;
        const n = Math.min(total - read, 1 + (seed % (24 * 1024)));
        if (n === 0) return void this.push(null);
        this.push(data.subarray(read, read + n));
        read += n;
      },
    });
    const parts: Buffer[] = [];
    let got = 0;
    let unacked = 0;
    let most = 0;
    client.on('message', (d: Buffer, isBinary: boolean) => {
      if (!isBinary) return;
      parts.push(Buffer.from(d));
      got += d.length;
      unacked += d.length;
      most = Math.max(most, unacked);
      // Acks in uneven batches, as a page whose parser lags does.
      if (unacked >= 5000 || got === total) {
        client.send(JSON.stringify({ type: 'ack', bytes: unacked }));
        unacked = 0;
      }
    });
    source.pipe(stream);
    await until(() => got === total, { what: 'all 8 MiB', timeout: 100_000 });
    assert.ok(most <= window, `${most} bytes unacknowledged at once, window ${window}`);
    assert.equal(sha(Buffer.concat(parts)), sha(data));
  } finally {
    await close();
  }
});

// Pooled socket reads (src/core/read-pool.ts): an accepted socket joined to a connected one lends its read buffers to the writer and gets them back; the bytes must stay exact both ways.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import net from 'node:net';
import { poolAcceptedReads } from '../../src/core/read-pool.js';
import { connectSocket } from '../../src/endpoints/socket-link.js';
import { join } from '../../src/router/pipe.js';
import { createLogger } from '../../src/log.js';

// Once one direction has ended, join() closes both after `linger` ms with nothing moving
// (socat -t, 500 ms by default): a loaded machine can stall this process's slow readers that
// long, so the test gives the linger a minute; what it checks is the buffers, not -t.
const LINGER = 60_000;

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** Writes `data` in chunks of 1 B to 300 KiB (a fixed pseudo-random sequence), then ends. */
async function writeUneven(socket: net.Socket, data: Buffer): Promise<void> {
  let seed = 7;
  for (let at = 0; at < data.length; ) {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    const n = Math.min(data.length - at, 1 + (seed % (300 * 1024)));
    if (!socket.write(data.subarray(at, at + n))) await once(socket, 'drain');
    at += n;
  }
  socket.end();
}

/** Collects what a socket reads until its end; pauses now and then so the writer's side backs up and its writes go asynchronous. */
function collectSlowly(socket: net.Socket): Promise<Buffer> {
  const parts: Buffer[] = [];
  let got = 0;
  let nextPause = 4 * 1024 * 1024;
  socket.on('data', (c: Buffer) => {
    parts.push(Buffer.from(c));
    got += c.length;
    if (got >= nextPause) {
      nextPause += 4 * 1024 * 1024;
      socket.pause();
      setTimeout(() => socket.resume(), 20);
    }
  });
  return once(socket, 'end').then(() => Buffer.concat(parts));
}

/**
 * client → accepted socket (pooled by poolAcceptedReads) → join → connected socket (pooled by
 * connectSocket) → server, and the server's reply back the same way.
 */
async function forward(pool: (s: net.Socket) => boolean, up: Buffer, down: Buffer): Promise<{ pooled: boolean[]; atServer: Buffer; atClient: Buffer }> {
  const pooled: boolean[] = [];
  let atServer!: Promise<Buffer>;
  const target = net.createServer({ allowHalfOpen: true }, (s) => {
    atServer = collectSlowly(s);
    void writeUneven(s, down);
  });
  target.listen(0, '127.0.0.1');
  await once(target, 'listening');
  const log = createLogger('error');
  const door = net.createServer({ allowHalfOpen: true }, (peer) => {
    pooled.push(pool(peer));
    connectSocket('tcp:test', { host: '127.0.0.1', port: (target.address() as net.AddressInfo).port }, () => 'upstream').then((upstream) =>
      join({ stream: peer, label: 'peer' }, upstream, { log, linger: LINGER }),
    );
  });
  door.listen(0, '127.0.0.1');
  await once(door, 'listening');
  const client = net.connect({ host: '127.0.0.1', port: (door.address() as net.AddressInfo).port, allowHalfOpen: true });
  try {
    await once(client, 'connect');
    const atClient = collectSlowly(client);
    await writeUneven(client, up);
    return { pooled, atClient: await atClient, atServer: await atServer };
  } finally {
    client.destroy();
    door.close();
    target.close();
  }
}

test('an accepted socket reads into lent buffers and every byte arrives once, in order, both ways', async () => {
  const up = randomBytes(48 * 1024 * 1024);
  const down = randomBytes(8 * 1024 * 1024);
  const r = await forward(poolAcceptedReads, up, down);
  assert.deepEqual(r.pooled, [true], "this Node has net.Socket's onread slots: the accepted socket reads into pooled buffers");
  assert.equal(r.atServer.length, up.length);
  assert.equal(sha(r.atServer), sha(up));
  assert.equal(r.atClient.length, down.length);
  assert.equal(sha(r.atClient), sha(down));
});

test("where pooling does not apply, the socket keeps Node's own reads and the bytes are the same", async () => {
  class OtherSocket extends net.Socket {}
  const other = new OtherSocket();
  assert.equal(poolAcceptedReads(other), false, 'not a plain net.Socket');
  other.destroy();
  const up = randomBytes(8 * 1024 * 1024);
  const down = randomBytes(1024 * 1024);
  // Pooled once already: a second call must leave it alone.
  const r = await forward((s) => poolAcceptedReads(s) && !poolAcceptedReads(s), up, down);
  assert.deepEqual(r.pooled, [true]);
  assert.equal(sha(r.atServer), sha(up));
  assert.equal(sha(r.atClient), sha(down));
  const plain = await forward(() => true, up, down);
  assert.equal(sha(plain.atServer), sha(up));
  assert.equal(sha(plain.atClient), sha(down));
});

// SIGTERM at awkward moments: during startup, and with 100 MiB in flight both ways.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import type net from 'node:net';
import { acceptOne, connectTcp, startPtyb } from './helpers/ptyb.js';
import { MiB } from './helpers/load.js';
import { until } from './helpers/until.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** Collects everything a socket receives until it closes, however it closes. */
function collect(s: net.Socket): { got: () => Buffer; closed: Promise<void> } {
  const chunks: Buffer[] = [];
  s.on('data', (c: Buffer) => chunks.push(c));
  s.on('error', () => {});
  return { got: () => Buffer.concat(chunks), closed: new Promise((r) => s.once('close', () => r())) };
}

/** Writes until done or the socket goes away; resolves with the bytes handed to the kernel side. */
async function pump(s: net.Socket, data: Buffer): Promise<void> {
  for (let off = 0; off < data.length && !s.destroyed; off += 64 * 1024) {
    if (!s.write(data.subarray(off, off + 64 * 1024))) {
      await new Promise<void>((r) => {
        s.once('drain', r);
        s.once('close', r);
      });
    }
  }
  if (!s.destroyed) s.end();
}

test('SIGTERM during startup (after the first "listening on", before the second bind) exits 0', async () => {
  // Two listeners bind one after the other: the window between the first line and the
  // route being ready is where a signal used to hit Node's default action (killed, no exit 0).
  for (let i = 0; i < 5; i++) {
    const pb = await startPtyb(['tcp-listen:0', 'tcp-listen:localhost:0'], { listeners: 1 });
    const res = await pb.stop('SIGTERM');
    assert.deepEqual(res, { code: 0, signal: null }, pb.stderr());
  }
});

test('SIGTERM with 100 MiB in flight both ways: each side receives a prefix of what was sent, exit 0', async () => {
  const size = 100 * MiB;
  const up = randomBytes(size);
  const down = randomBytes(size);
  const upstream = await acceptOne();
  const upstreamSocket = upstream.first;
  const pb = await startPtyb(['tcp-listen:0', `tcp:127.0.0.1:${upstream.port}`]);
  try {
    const client = await connectTcp(pb.listening[0]!.port);
    const server = await upstreamSocket;
    const atServer = collect(server);
    const atClient = collect(client);
    void pump(client, up);
    void pump(server, down);
    // Signal once real traffic is under way in both directions.
    await until(() => atServer.got().length > 10 * MiB && atClient.got().length > 10 * MiB, { timeout: 60_000, what: 'traffic of 10 MiB each way' });
    const exit = await pb.stop('SIGTERM');
    assert.deepEqual(exit, { code: 0, signal: null }, pb.stderr());
    await Promise.all([atServer.closed, atClient.closed]);
    const gotUp = atServer.got();
    const gotDown = atClient.got();
    assert.ok(gotUp.length <= size && gotDown.length <= size);
    assert.equal(sha(gotUp), sha(up.subarray(0, gotUp.length)), `client→upstream: the ${gotUp.length} bytes received are a prefix of what was sent`);
    assert.equal(sha(gotDown), sha(down.subarray(0, gotDown.length)), `upstream→client: the ${gotDown.length} bytes received are a prefix of what was sent`);
    assert.doesNotMatch(pb.stderr(), /internal error|at .*\.m?js:\d+/, 'no stack trace');
  } finally {
    await pb.stop('SIGKILL');
    await upstream.close();
  }
});

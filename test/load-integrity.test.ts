// Integrity under load: a large stream each way, random chunk sizes, random pauses on both sides; SHA-256 equal.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type net from 'node:net';
import { acceptOne, connectTcp, startPtyb } from './helpers/ptyb.js';
import { MiB, Payload, readRandomly, writeRandomly } from './helpers/load.js';

/** Bytes per direction; 1 GiB by hand: PTYB_INTEGRITY_BYTES=1073741824. */
const BYTES = Number(process.env.PTYB_INTEGRITY_BYTES ?? 256 * MiB);

/** Sends BYTES each way between a and b at once, both sides pausing at random; compares hashes. */
async function bothWays(a: net.Socket, b: net.Socket): Promise<void> {
  const [sentAB, sentBA, gotAtB, gotAtA] = await Promise.all([
    writeRandomly(a, new Payload(), BYTES),
    writeRandomly(b, new Payload(), BYTES),
    readRandomly(b),
    readRandomly(a),
  ]);
  assert.equal(gotAtB.bytes, BYTES, 'a→b length');
  assert.equal(gotAtB.sha256, sentAB, 'a→b bytes and order');
  assert.equal(gotAtA.bytes, BYTES, 'b→a length');
  assert.equal(gotAtA.sha256, sentBA, 'b→a bytes and order');
}

test(`integrity: ${BYTES / MiB} MiB each way through tcp-listen ↔ tcp, random chunks and pauses`, async () => {
  const upstream = await acceptOne();
  const upstreamSocket = upstream.first;
  const pb = await startPtyb(['tcp-listen:0', `tcp:127.0.0.1:${upstream.port}`]);
  try {
    const client = await connectTcp(pb.listening[0]!.port);
    const started = Date.now();
    await bothWays(client, await upstreamSocket);
    const s = (Date.now() - started) / 1000;
    process.stderr.write(`# tcp-listen ↔ tcp: ${(2 * BYTES) / MiB} MiB in ${s.toFixed(1)} s (${((2 * BYTES) / MiB / s).toFixed(0)} MiB/s)\n`);
    const { code } = await pb.stop();
    assert.equal(code, 0);
  } finally {
    await pb.stop();
    await upstream.close();
  }
});

test(`integrity: ${BYTES / MiB} MiB each way through tcp ↔ tcp (two connecting ends), random chunks and pauses`, async () => {
  const a = await acceptOne();
  const b = await acceptOne();
  const gotA = a.first;
  const gotB = b.first;
  const pb = await startPtyb([`tcp:127.0.0.1:${a.port}`, `tcp:127.0.0.1:${b.port}`], { listeners: 0 });
  try {
    await bothWays(await gotA, await gotB);
    assert.equal((await pb.exited).code, 0, pb.stderr());
  } finally {
    await pb.stop();
    await a.close();
    await b.close();
  }
});

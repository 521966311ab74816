// The console API's output ring: absolute offsets, bounded memory, and a clear gap when a cursor is older than the ring.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OutputRing } from '../../src/router/console-api.js';

test('reads from any cursor across chunks, bounded by max; an old cursor answers gap and the oldest kept byte', () => {
  const ring = new OutputRing(10);
  ring.push(Buffer.from('abcd'));
  ring.push(Buffer.from('efgh'));
  assert.deepEqual({ ...ring.read(2, 100), data: ring.read(2, 100).data.toString() }, { data: 'cdefgh', from: 2, next: 8, gap: false });
  assert.equal(ring.read(3, 3).data.toString(), 'def');
  assert.equal(ring.read(3, 3).next, 6);
  ring.push(Buffer.from('ijklmn')); // 14 bytes: "abcd" falls out
  const old = ring.read(1, 100);
  assert.equal(old.gap, true);
  assert.equal(old.from, 4);
  assert.equal(old.data.toString(), 'efghijklmn');
  assert.equal(ring.end, 14);
  assert.deepEqual(ring.read(14, 100).data.length, 0);
});

test('waitFor resolves on the next byte, or on abort', async () => {
  const ring = new OutputRing(10);
  const ac = new AbortController();
  const w = ring.waitFor(0, ac.signal);
  ring.push(Buffer.from('x'));
  await w;
  const aborted = new AbortController();
  const w2 = ring.waitFor(1, aborted.signal);
  aborted.abort();
  await w2;
  assert.equal(ring.end, 1);
});

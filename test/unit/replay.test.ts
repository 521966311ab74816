// The byte-tail replay in-process: whatever is pushed, in whatever pieces, a joiner gets exactly the last N bytes (router/replay.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { fuzzRuns } from '../helpers/fuzz-runs.js';
import { ByteReplay, makeReplay } from '../../src/router/replay.js';

const RUNS = fuzzRuns(1 / 3);

const snapshot = (r: { snapshot(ready: (b: Buffer) => void): void }) => {
  let got: Buffer | undefined;
  r.snapshot((b) => (got = b));
  assert.ok(got, 'a byte replay answers at once');
  return got;
};

test('property: the ring holds the last `capacity` bytes of everything pushed', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 64 }), fc.array(fc.uint8Array({ maxLength: 100 }), { maxLength: 20 }), (capacity, chunks) => {
      const r = new ByteReplay(capacity);
      for (const c of chunks) r.push(Buffer.from(c));
      const all = Buffer.concat(chunks.map((c) => Buffer.from(c)));
      const want = capacity === 0 ? Buffer.alloc(0) : all.subarray(Math.max(0, all.length - capacity));
      assert.deepEqual(snapshot(r), want);
      assert.equal(r.length, want.length);
    }),
    { numRuns: RUNS },
  );
});

test('replay off keeps nothing; bytes mode keeps its size', async () => {
  const off = await makeReplay({ mode: 'off' }, { cols: 80, rows: 24 });
  off.push(Buffer.from('hello'));
  assert.equal(snapshot(off).length, 0);
  const tail = await makeReplay({ mode: 'bytes', size: 4 }, { cols: 80, rows: 24 });
  tail.push(Buffer.from('hel'));
  tail.push(Buffer.from('lo!'));
  assert.equal(snapshot(tail).toString(), 'llo!');
  tail.dispose();
  assert.equal(snapshot(tail).length, 0);
});

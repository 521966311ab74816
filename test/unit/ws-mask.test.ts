// The word-at-a-time WebSocket (un)masking equals the byte-at-a-time definition, at every alignment and length.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { mask, unmask } from '../../src/protocols/ws-mask.js';

const reference = (data: Uint8Array, key: Uint8Array) => Uint8Array.from(data, (b, i) => b ^ key[i & 3]!);
const input = fc.record({
  data: fc.uint8Array({ minLength: 0, maxLength: 300 }),
  key: fc.uint8Array({ minLength: 4, maxLength: 4 }),
  at: fc.nat(7), // byte offset of the data (and of the output) inside its ArrayBuffer
  outAt: fc.nat(7),
});

test('unmask in place: same bytes as XOR with key[i % 4], any alignment and length', () => {
  fc.assert(
    fc.property(input, ({ data, key, at }) => {
      const buf = Buffer.alloc(data.length + 8);
      const view = buf.subarray(at, at + data.length);
      view.set(data);
      unmask(view, key);
      assert.deepEqual(new Uint8Array(view), reference(data, key));
    }),
    { numRuns: 2000 },
  );
});

test('mask into an output at an offset: same bytes, nothing outside the range touched', () => {
  fc.assert(
    fc.property(input, ({ data, key, at, outAt }) => {
      const src = Buffer.alloc(data.length + 8).subarray(at, at + data.length);
      src.set(data);
      const out = Buffer.alloc(data.length + 16, 0xee);
      mask(src, key, out, outAt, data.length);
      assert.deepEqual(new Uint8Array(out.subarray(outAt, outAt + data.length)), reference(data, key));
      assert.ok(out.subarray(0, outAt).every((b) => b === 0xee));
      assert.ok(out.subarray(outAt + data.length).every((b) => b === 0xee));
    }),
    { numRuns: 2000 },
  );
});

// WebSocket (un)masking four bytes at a time, given to `ws` in place of its optional native `bufferutil`.
// Masked client frames are XORed with a 4-byte key; ws's fallback does it a byte at a time,
// which is most of the CPU that forwarding a browser's or client's upload costs.

/** The 4-byte key as one 32-bit word, starting at key byte `shift`, in this machine's byte order. */
function keyWord(mask: Uint8Array, shift: number): number {
  const k = new Uint8Array(4);
  for (let j = 0; j < 4; j++) k[j] = mask[(shift + j) & 3]!;
  return new Uint32Array(k.buffer)[0]!;
}

/** XORs `length` bytes of `source` with the mask into `output` at `offset` (frames being sent). */
export function mask(source: Uint8Array, maskKey: Uint8Array, output: Uint8Array, offset: number, length: number): void {
  let i = 0;
  // Bytes until the output is 4-byte aligned, then words, then the tail.
  const misalign = (output.byteOffset + offset) & 3;
  const head = Math.min(length, misalign === 0 ? 0 : 4 - misalign);
  for (; i < head; i++) output[offset + i] = source[i]! ^ maskKey[i & 3]!;
  const words = (length - head) >>> 2;
  if (words > 0 && ((source.byteOffset + head) & 3) === 0) {
    const src = new Uint32Array(source.buffer, source.byteOffset + head, words);
    const dst = new Uint32Array(output.buffer, output.byteOffset + offset + head, words);
    const k = keyWord(maskKey, head);
    for (let w = 0; w < words; w++) dst[w] = src[w]! ^ k;
    i = head + words * 4;
  }
  for (; i < length; i++) output[offset + i] = source[i]! ^ maskKey[i & 3]!;
}

/** XORs a received frame's payload with its mask, in place. */
export function unmask(buffer: Uint8Array, maskKey: Uint8Array): void {
  const length = buffer.length;
  let i = 0;
  const misalign = buffer.byteOffset & 3;
  const head = Math.min(length, misalign === 0 ? 0 : 4 - misalign);
  for (; i < head; i++) buffer[i]! ^= maskKey[i & 3]!;
  const words = (length - head) >>> 2;
  if (words > 0) {
    const view = new Uint32Array(buffer.buffer, buffer.byteOffset + head, words);
    const k = keyWord(maskKey, head);
    for (let w = 0; w < words; w++) view[w]! ^= k;
    i = head + words * 4;
  }
  for (; i < length; i++) buffer[i]! ^= maskKey[i & 3]!;
}

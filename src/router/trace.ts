// The -x hex trace: every chunk of both directions, labelled, to stderr (like socat -x).

/** Formats one chunk as socat -x does: a header line, then hex and printable text, 16 bytes a row. */
export function formatTrace(direction: string, chunk: Buffer, at: Date = new Date()): string {
  const lines = [`> ${at.toISOString()} ${direction} length=${chunk.length}`];
  for (let off = 0; off < chunk.length; off += 16) {
    const row = chunk.subarray(off, off + 16);
    const hex = Array.from(row, (b) => b.toString(16).padStart(2, '0')).join(' ');
    const text = Array.from(row, (b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.')).join('');
    lines.push(` ${off.toString(16).padStart(8, '0')}  ${hex.padEnd(47)}  ${text}`);
  }
  return lines.join('\n') + '\n';
}

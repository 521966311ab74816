// The -x hex trace: every chunk of both directions, labelled, to stderr (like socat -x).

/**
 * Which way a chunk goes, marked as socat -x marks it: `>` left to right (from the first
 * address, or the shared device, to the other side), `<` right to left.
 */
export type TraceMark = '>' | '<';

/** Formats one chunk as socat -x does: a header line, then hex and printable text, 16 bytes a row. */
export function formatTrace(direction: string, chunk: Buffer, mark: TraceMark = '>', at: Date = new Date()): string {
  const lines = [`${mark} ${at.toISOString()} ${direction} length=${chunk.length}`];
  for (let off = 0; off < chunk.length; off += 16) {
    const row = chunk.subarray(off, off + 16);
    const hex = Array.from(row, (b) => b.toString(16).padStart(2, '0')).join(' ');
    const text = Array.from(row, (b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.')).join('');
    lines.push(` ${off.toString(16).padStart(8, '0')}  ${hex.padEnd(47)}  ${text}`);
  }
  return lines.join('\n') + '\n';
}

/** The same trace with `>` and `<` swapped: for a join whose first link is the right-hand address. */
export function mirrorTrace(trace: (text: string) => void): (text: string) => void {
  return (text) => trace(text.replace(/^[<>]/, (m) => (m === '>' ? '<' : '>')));
}

// Escape sequences typed at line start in the interactive client (~. ~b ~w ~s ~m ~? ~~), as ssh, rtty and conserver read them.
import { Transform, type TransformCallback } from 'node:stream';

export type EscapeAction = 'disconnect' | 'break' | 'take' | 'release' | 'mark' | 'help';

/** What the filter finds in typed bytes, in order. */
export type EscapeEvent = { type: 'data'; data: Buffer } | { type: EscapeAction };

/** Parses `--escape`: a single character, `^X` for a control key, or `none`. */
export function parseEscapeChar(text: string): number | undefined {
  if (text === 'none') return undefined;
  if (/^\^[@-_a-z]$/.test(text)) return text.toUpperCase().charCodeAt(1) - 64;
  const b = Buffer.from(text, 'utf8');
  if (b.length !== 1) throw new Error(`one character, ^X or none, got "${text}"`);
  return b[0]!;
}

const CR = 13;
const LF = 10;
// w and s as conserver's ^Ecw (write) and ^Ecs (spy); m marks the console's history.
const KEYS: Record<number, EscapeAction> = { 0x2e: 'disconnect', 0x62: 'break', 0x42: 'break', 0x77: 'take', 0x73: 'release', 0x6d: 'mark', 0x3f: 'help' };

/**
 * The escape filter. The escape character counts only at the start of a line (after Enter),
 * so it can still be typed inside text; typed twice it sends itself once; followed by any
 * other key both are sent, as ssh does.
 */
export class EscapeFilter {
  private lineStart = true;
  private pending = false;

  constructor(private readonly escape: number | undefined) {}

  feed(chunk: Buffer): EscapeEvent[] {
    if (this.escape === undefined) return chunk.length ? [{ type: 'data', data: chunk }] : [];
    const out: EscapeEvent[] = [];
    let from = 0;
    const flush = (to: number) => {
      if (to > from) out.push({ type: 'data', data: chunk.subarray(from, to) });
    };
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i]!;
      if (this.pending) {
        this.pending = false;
        from = i + 1;
        const action = KEYS[b];
        if (action) {
          out.push({ type: action });
          this.lineStart = true;
          continue;
        }
        // ~~ sends one ~; ~x sends both.
        out.push({ type: 'data', data: b === this.escape ? Buffer.of(b) : Buffer.of(this.escape, b) });
        this.lineStart = b === CR || b === LF;
        continue;
      }
      if (this.lineStart && b === this.escape) {
        flush(i);
        from = i + 1;
        this.pending = true;
        continue;
      }
      this.lineStart = b === CR || b === LF;
    }
    flush(chunk.length);
    return out;
  }
}

/** The filter as a stream: data passes on, actions go to `onAction` at their place in the stream. */
export function escapeTransform(escape: number | undefined, onAction: (a: EscapeAction) => void): Transform {
  const filter = new EscapeFilter(escape);
  return new Transform({
    transform(chunk: Buffer, _enc, done: TransformCallback) {
      for (const ev of filter.feed(chunk)) {
        if (ev.type === 'data') this.push(ev.data);
        else onAction(ev.type);
      }
      done();
    },
  });
}

/** How to type the escape key: "~", or "^]" for a control key. */
export const escapeName = (escape: number) => (escape < 32 ? `^${String.fromCharCode(escape + 64)}` : String.fromCharCode(escape));

/** The text `~?` prints, with the configured escape character. */
export function escapeHelp(escape: number): string {
  const e = escapeName(escape);
  return [
    'Supported escape sequences (at the start of a line):',
    `  ${e}.  disconnect`,
    `  ${e}b  send BREAK`,
    `  ${e}w  take the keyboard (a hub under ?policy=exclusive, over ws:)`,
    `  ${e}s  let go of the keyboard: watch only`,
    `  ${e}m  mark this moment in the console's history (a hub with ?history, over ws:)`,
    `  ${e}?  this help`,
    `  ${e}${e}  send ${e} itself`,
    '',
  ].join('\r\n');
}

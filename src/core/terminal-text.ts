// Terminal output as plain text lines for grep: escape sequences (CSI, OSC, DCS…, also split across chunks) and CRs removed, backspace applied within the line.

const enum S {
  Ground,
  Esc,
  EscInter,
  Csi,
  /** OSC, DCS, SOS, PM, APC: a string ended by BEL or ST. */
  Str,
  StrEsc,
}

/** A line held longer than this goes out without its end, so memory stays bounded on output that never says newline. */
const MAX_LINE = 64 * 1024;

/** Streaming: feed decoded output with `push`, get back whole lines (each ending in `\n`). */
export class PlainText {
  private state = S.Ground;
  private line = '';

  push(s: string): string {
    const out: string[] = [];
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      switch (this.state) {
        case S.Ground: {
          if (isText(c)) {
            // A run of text is appended at once: one char at a time would build a rope per char.
            let j = i + 1;
            while (j < s.length && isText(s.charCodeAt(j))) j++;
            this.line += s.slice(i, j);
            i = j - 1;
            if (this.line.length >= MAX_LINE) {
              out.push(this.line);
              this.line = '';
            }
          } else if (c === 0x0a) {
            out.push(`${this.line}\n`);
            this.line = '';
          } else if (c === 0x1b) this.state = S.Esc;
          else if (c === 0x9b) this.state = S.Csi;
          else if (c === 0x9d || c === 0x90 || c === 0x98 || c === 0x9e || c === 0x9f) this.state = S.Str;
          else if (c === 0x08) this.backspace();
          // Every other control (CR, BEL, SI/SO, C1…) moves the cursor or rings: no text.
          break;
        }
        case S.Esc:
          if (c === 0x5b) this.state = S.Csi;
          else if (c === 0x5d || c === 0x50 || c === 0x58 || c === 0x5e || c === 0x5f) this.state = S.Str;
          else if (c >= 0x20 && c <= 0x2f) this.state = S.EscInter;
          else if (c !== 0x1b) this.state = S.Ground;
          break;
        case S.EscInter:
          if (c < 0x20 || c > 0x2f) this.state = c === 0x1b ? S.Esc : S.Ground;
          break;
        case S.Csi:
          if (c === 0x1b) this.state = S.Esc;
          else if (c < 0x20 || c > 0x3f) this.state = S.Ground; // the final byte, or a malformed one
          break;
        case S.Str:
          if (c === 0x07 || c === 0x9c || c === 0x18 || c === 0x1a) this.state = S.Ground;
          else if (c === 0x1b) this.state = S.StrEsc;
          break;
        case S.StrEsc:
          // ESC \ is ST; ESC followed by anything else starts a new sequence.
          if (c === 0x5c) this.state = S.Ground;
          else {
            this.state = S.Esc;
            i--;
          }
          break;
      }
    }
    return out.length === 1 ? out[0]! : out.join('');
  }

  /** Ends the text of one recording: an unfinished line gets its newline, an unfinished sequence is forgotten. */
  end(): string {
    const out = this.line ? `${this.line}\n` : '';
    this.line = '';
    this.state = S.Ground;
    return out;
  }

  private backspace(): void {
    if (!this.line) return;
    const last = this.line.charCodeAt(this.line.length - 1);
    const pair = last >= 0xdc00 && last <= 0xdfff && this.line.length > 1;
    this.line = this.line.slice(0, pair ? -2 : -1);
  }
}

/** Text: TAB and the printable characters (not DEL, not the C1 controls U+0080–U+009F). */
function isText(c: number): boolean {
  return c === 0x09 || (c >= 0x20 && c !== 0x7f && (c < 0x80 || c > 0x9f));
}

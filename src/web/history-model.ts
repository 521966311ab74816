// A boot of a console's history as the page's history view sees it: its files' events on one time line, the marks, the text to search and copy. Pure (no DOM), so node tests it too.
import { type CastHeader, parseCastEvent, parseCastHeader } from '../core/asciicast-parse.js';
import { PlainText } from '../core/terminal-text.js';

/** One file of GET /api/consoles/NAME/history's listing. */
export interface ListedFile {
  name: string;
  start: string;
  size: number;
  boot: boolean;
}

/** A boot: its first file and the files that continue it (a new file every 16 MiB is not a new boot). */
export interface Boot {
  files: ListedFile[];
  start: string;
}

/** The listing cut into boots, oldest first. A listing that starts with a continuation (its boot file was pruned) starts a boot there. */
export function bootsOf(files: ListedFile[]): Boot[] {
  const boots: Boot[] = [];
  for (const f of files) {
    const last = boots[boots.length - 1];
    if (f.boot || !last) boots.push({ files: [f], start: f.start });
    else last.files.push(f);
  }
  return boots;
}

/** An event on the boot's time line: `t` seconds since the boot's first file began. */
export interface TimedEvent {
  t: number;
  code: string;
  data: string;
  /** Which file of the boot it is in. */
  file: number;
}

export interface Mark {
  /** The position that shows the screen as it was at the mark: every event up to the mark applied. */
  position: number;
  t: number;
  label: string;
  kind: 'boot' | 'match' | 'peer' | 'other';
}

/** A line of the history's text that holds what was searched; `position` shows it on the screen. */
export interface Match {
  position: number;
  t: number;
  line: string;
}

export interface ParsedCast {
  header: CastHeader;
  events: { time: number; code: string; data: string }[];
}

/** A whole .cast text: the header, then the events; an unfinished last line (the file is being written) is left out. */
export function parseCastText(text: string): ParsedCast {
  const lines = text.split('\n');
  let i = 0;
  while (i < lines.length && lines[i]!.trim() === '') i++;
  if (i >= lines.length) throw new Error('empty file, expected an asciicast v2 header');
  const header = parseCastHeader(lines[i]!);
  const events: ParsedCast['events'] = [];
  for (let n = i + 1; n < lines.length; n++) {
    const l = lines[n]!;
    if (l.trim() === '') continue;
    try {
      events.push(parseCastEvent(l, n + 1));
    } catch (err) {
      if (n === lines.length - 1) break; // torn last line
      throw new Error(`line ${n + 1}: ${(err as Error).message}`);
    }
  }
  return { header, events };
}

const kindOf = (label: string): Mark['kind'] =>
  label === 'boot' ? 'boot' : label.startsWith('mark: ') ? 'match' : label.startsWith('mark by ') ? 'peer' : 'other';

/**
 * A position is how many events are applied: 0 is the empty screen before the boot, and
 * `events.length` the last recorded moment. The screen at a position is the output of the
 * events before it, in order, with the resizes among them.
 */
export class HistoryModel {
  readonly events: TimedEvent[] = [];
  readonly marks: Mark[] = [];
  /** ms since the epoch the boot's times count from. */
  readonly baseMs: number;
  /** The size the first file was recorded at. */
  readonly width: number;
  readonly height: number;

  constructor(casts: ParsedCast[], fallbackStartMs = 0) {
    const first = casts[0]?.header;
    this.width = first?.width ?? 80;
    this.height = first?.height ?? 24;
    const base = (h: CastHeader | undefined) => (h?.timestamp !== undefined ? h.timestamp * 1000 : fallbackStartMs);
    this.baseMs = base(first);
    casts.forEach((c, file) => {
      const offset = (base(c.header) - this.baseMs) / 1000;
      // A continuation file starts at its recorded size: say so as a resize, as its header does.
      if (file > 0) this.events.push({ t: Math.max(0, offset), code: 'r', data: `${c.header.width}x${c.header.height}`, file });
      for (const e of c.events) {
        const t = Math.max(0, offset + e.time);
        this.events.push({ t, code: e.code, data: e.data, file });
        if (e.code === 'm') this.marks.push({ position: this.events.length, t, label: e.data, kind: kindOf(e.data) });
      }
    });
  }

  /** Seconds from the boot's start to its last event. */
  get duration(): number {
    return this.events.length ? this.events[this.events.length - 1]!.t : 0;
  }

  /** The time of a position: that of the last event applied. */
  timeAt(position: number): number {
    return position <= 0 ? 0 : this.events[Math.min(position, this.events.length) - 1]!.t;
  }

  /** The position at time `t`: every event at or before it applied. */
  positionAt(t: number): number {
    let lo = 0;
    let hi = this.events.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.events[mid]!.t <= t) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Which file of the boot holds the moment at `position` (the first before any event). */
  fileAt(position: number): number {
    return position <= 0 || !this.events.length ? 0 : this.events[Math.min(position, this.events.length) - 1]!.file;
  }

  /**
   * The lines of the output (escape sequences taken out, as `ptybridge history` prints them)
   * that contain `query`, ignoring case; each lands where its line was finished printing.
   */
  search(query: string): Match[] {
    const q = query.toLowerCase();
    if (!q) return [];
    const out: Match[] = [];
    this.eachLine(0, this.events.length, (line, position) => {
      if (line.toLowerCase().includes(q)) out.push({ position, t: this.timeAt(position), line });
    });
    return out;
  }

  /** The text printed between two positions, as plain lines (what the copy button copies). */
  textBetween(from: number, to: number): string {
    const lines: string[] = [];
    this.eachLine(Math.min(from, to), Math.max(from, to), (line) => lines.push(line));
    return lines.length ? `${lines.join('\n')}\n` : '';
  }

  private eachLine(from: number, to: number, each: (line: string, position: number) => void): void {
    const text = new PlainText();
    const emit = (s: string, position: number) => {
      if (!s) return;
      const parts = s.split('\n');
      parts.pop(); // every piece PlainText gives ends in a newline
      for (const p of parts) each(p, position);
    };
    for (let i = from; i < to; i++) {
      const e = this.events[i]!;
      if (e.code === 'o') emit(text.push(e.data), i + 1);
    }
    emit(text.end(), to);
  }
}

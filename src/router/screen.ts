// The screen model of a terminal device: a headless xterm.js fed with its output, serialized for a peer that joins.
import headless from '@xterm/headless';
import serialize from '@xterm/addon-serialize';
import type { Terminal as HeadlessTerminal } from '@xterm/headless';
import type { SerializeAddon as Serializer } from '@xterm/addon-serialize';
import type { Replay } from './replay.js';

// Both packages are CommonJS bundles whose named exports Node's ESM loader cannot see.
const { Terminal } = headless;
const { SerializeAddon } = serialize as unknown as { SerializeAddon: typeof Serializer };

/** The most output handed to the parser at once: one slice never holds the event loop long. */
const SLICE = 64 * 1024;
/** Handed to the parser and not yet parsed: beyond this, new output waits in `pending`. */
const IN_FLIGHT_MAX = 512 * 1024;
/**
 * Waiting output beyond this means the device outruns the parser (a flood): the model skips
 * to the last KEEP_AFTER_SKIP bytes (from a line start) rather than slow the data path or grow.
 */
const PENDING_MAX = 8 * 1024 * 1024;
const KEEP_AFTER_SKIP = 1024 * 1024;
/** A peer may ask for any size; the model's memory is cells, so it stops at this many a side. */
const MAX_COLS = 1000;
const MAX_ROWS = 500;

export interface ScreenOptions {
  cols: number;
  rows: number;
  /** Lines the model keeps above the screen, and sends a joiner with it. */
  scrollback: number;
}

/**
 * Parses the device output off the data path: `push` only queues (the hub writes to peers
 * first and never waits); the queue goes to xterm's parser in slices from setImmediate,
 * which itself works in 12 ms time slices. A joiner's snapshot is taken in the parser's
 * callback for the last byte pushed before it asked, and before any byte after it, so the
 * snapshot and the live bytes the joiner is given after it meet at an exact byte boundary.
 */
export class ScreenModel implements Replay {
  private readonly term: HeadlessTerminal;
  private readonly ser: Serializer;
  private title = '';
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private inFlight = 0;
  private scheduled = false;
  private disposed = false;
  /** Bytes the model skipped under a flood, for the log. */
  skipped = 0;
  /** Until the device has said anything, a joiner gets nothing (not even a reset): a binary peer sees only its bytes. */
  private fed = false;

  constructor(private readonly opts: ScreenOptions) {
    this.term = new Terminal({ cols: Math.min(opts.cols, MAX_COLS), rows: Math.min(opts.rows, MAX_ROWS), scrollback: opts.scrollback, allowProposedApi: true });
    this.ser = new SerializeAddon();
    this.term.loadAddon(this.ser as never);
    this.term.onTitleChange((t) => (this.title = t));
  }

  push(chunk: Buffer): void {
    if (this.disposed || chunk.length === 0) return;
    this.fed = true;
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    if (this.pendingBytes > PENDING_MAX) this.skip();
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.feed(false));
    }
  }

  resize(cols: number, rows: number): void {
    cols = Math.min(cols, MAX_COLS);
    rows = Math.min(rows, MAX_ROWS);
    if (this.disposed || (cols === this.term.cols && rows === this.term.rows)) return;
    // The bytes queued before the resize were drawn at the old size.
    this.feed(true);
    this.term.write('', () => {
      if (!this.disposed) this.term.resize(cols, rows);
    });
  }

  snapshot(ready: (first: Buffer) => void): void {
    if (this.disposed || !this.fed) return ready(Buffer.alloc(0));
    this.feed(true);
    this.term.write('', () => ready(this.disposed ? Buffer.alloc(0) : Buffer.from(this.serialize(), 'utf8')));
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.pending = [];
    this.term.dispose();
  }

  /** Hands queued output to the parser: up to IN_FLIGHT_MAX, or all of it (`all`) when a snapshot or resize must follow it. */
  private feed(all: boolean): void {
    this.scheduled = false;
    if (this.disposed || this.pendingBytes === 0) return;
    if (!all && this.inFlight >= IN_FLIGHT_MAX) return; // a parsed slice calls feed again
    const data = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending, this.pendingBytes);
    this.pending = [];
    this.pendingBytes = 0;
    for (let off = 0; off < data.length; off += SLICE) {
      const slice = data.subarray(off, off + SLICE);
      this.inFlight += slice.length;
      this.term.write(slice, () => {
        this.inFlight -= slice.length;
        if (this.inFlight === 0 && this.pendingBytes > 0 && !this.scheduled) {
          this.scheduled = true;
          setImmediate(() => this.feed(false));
        }
      });
    }
  }

  /** Drops all but the last KEEP_AFTER_SKIP bytes of the queue, from a line start where there is one. */
  private skip(): void {
    const data = Buffer.concat(this.pending, this.pendingBytes);
    let from = data.length - KEEP_AFTER_SKIP;
    const nl = data.indexOf(0x0a, from);
    if (nl >= 0 && nl < data.length - 1) from = nl + 1;
    this.skipped += from;
    this.pending = [data.subarray(from)];
    this.pendingBytes = data.length - from;
  }

  /**
   * What a joiner's terminal needs to show this screen: a full reset (its old screen and
   * modes go), the title, the buffers with scrollback, cursor and modes (the serialize
   * addon), then what the addon leaves out: the scroll region, cursor visibility, SGR mouse.
   */
  private serialize(): string {
    let out = '\x1bc';
    if (this.title) out += `\x1b]0;${this.title.replace(/[\x00-\x1f\x7f]/g, '')}\x07`;
    out += this.ser.serialize({ scrollback: this.opts.scrollback });
    // Internals, read defensively: the public API does not expose these.
    const core = (this.term as unknown as { _core?: Record<string, any> })._core;
    const buffer = core?._bufferService?.buffer as { scrollTop?: number; scrollBottom?: number } | undefined;
    if (buffer && typeof buffer.scrollTop === 'number' && typeof buffer.scrollBottom === 'number') {
      if (buffer.scrollTop !== 0 || buffer.scrollBottom !== this.term.rows - 1) {
        // DECSTBM homes the cursor: save and restore it around the region.
        out += `\x1b7\x1b[${buffer.scrollTop + 1};${buffer.scrollBottom + 1}r\x1b8`;
      }
    }
    if (core?.coreMouseService?.activeEncoding === 'SGR') out += '\x1b[?1006h';
    if (core?.coreService?.isCursorHidden === true) out += '\x1b[?25l';
    return out;
  }
}

// The screen model of a terminal device: a headless xterm.js fed with its output, serialized for a peer that joins.
import headless from '@xterm/headless';
import serialize from '@xterm/addon-serialize';
import type { Terminal as HeadlessTerminal } from '@xterm/headless';
import type { SerializeAddon as Serializer } from '@xterm/addon-serialize';
import type { Replay } from './replay.js';
import { releaseHeap } from './heap-release.js';

// Both packages are CommonJS bundles whose named exports Node's ESM loader cannot see.
const { Terminal } = headless;
const { SerializeAddon } = serialize as unknown as { SerializeAddon: typeof Serializer };

/** Output waits this long to be parsed in one batch: a trickle of 1-byte writes costs one parse per batch, not per write. */
const BATCH_MS = 10;
/** The most output handed to the parser at once: one batch never holds the event loop long. */
const SLICE = 256 * 1024;
/**
 * When output keeps coming, the parser rests REST times as long as its last batch took: it
 * gets at most 1/(1+REST) of the thread, and the data path the rest. Parsing costs about
 * three times what forwarding does per byte, so under a flood the model takes a sample and
 * skips the rest (bench/screen.mjs: REST=4 cost a flood two thirds of its throughput).
 */
const REST = 20;
/**
 * Waiting output beyond this means the device outruns the parser (a flood): the model skips
 * to the last KEEP_AFTER_SKIP bytes (from a line start) rather than slow the data path or grow.
 */
const PENDING_MAX = 4 * 1024 * 1024;
const KEEP_AFTER_SKIP = 512 * 1024;
/** Chunks shorter than this are copied into a batch buffer of BATCH_BYTES rather than kept. */
const COPY_BELOW = 1024;
const BATCH_BYTES = 16 * 1024;
const EMPTY = Buffer.alloc(0);
/** A peer may ask for any size; the model's memory is cells, so it stops at this many a side. */
const MAX_COLS = 1000;
const MAX_ROWS = 500;
/**
 * A model with no output for this long is freed and kept as its serialized screen (a few KB
 * against ~190 KB of cells and parser): 1 000 idle consoles then cost what the bytes replay
 * does (bench/results-scale.md). Output or a resize rebuilds it from that screen. The
 * environment variable shortens it for tests (a minute is too long to wait for).
 */
const QUIET_MS = Number(process.env.PTYBRIDGE_SCREEN_QUIET_MS) || 60_000;

import type { ScreenView } from '../core/console-api.js';

export interface ScreenOptions {
  cols: number;
  rows: number;
  /** Lines the model keeps above the screen, and sends a joiner with it. */
  scrollback: number;
  /** Free the terminal after this long without output (tests shorten it). */
  quietMs?: number;
}

/**
 * The live models, swept by one shared timer rather than a timer each: a thousand consoles
 * must not wake the process a thousand times.
 */
const live = new Set<ScreenModel>();
let sweeper: NodeJS.Timeout | undefined;
let sweepMs = 0;
/** What a model costs beyond its cells (parser, objects), and what a cell costs (3 uint32s). */
const MODEL_BYTES = 150 * 1024;
const CELL_BYTES = 12;
/**
 * A sweep that freed this much asks V8 to collect and glibc to return the memory now (a few
 * ms, at most once a quiet period): six or more idle consoles' models (each ~150 KB of heap
 * and ~20–50 KB of line buffers), or one whose scroll-back is full (1 000 lines of 80 columns
 * are ~1 MB of cells; a web shell at 200 columns after `cat` of a log, 2.5 MB). Less is left
 * to the next ordinary GC.
 */
const RELEASE_BYTES = 1024 * 1024;

function track(m: ScreenModel, quietMs: number): void {
  live.add(m);
  const every = Math.max(10, quietMs / 2);
  if (sweeper && every >= sweepMs) return;
  clearInterval(sweeper);
  sweepMs = every;
  sweeper = setInterval(() => {
    const now = performance.now();
    let freed = 0;
    for (const x of live) freed += x.freeIfQuiet(now);
    if (freed >= RELEASE_BYTES) releaseHeap();
    if (live.size === 0) {
      clearInterval(sweeper);
      sweeper = undefined;
    }
  }, every);
  sweeper.unref();
}

/**
 * Parses the device output off the data path: `push` only queues (the hub writes to peers
 * first and never waits); the queue goes to xterm's parser in batches from a timer,
 * and xterm itself parses in 12 ms time slices. A joiner's snapshot is taken in the parser's
 * callback for the last byte pushed before it asked, and before any byte after it, so the
 * snapshot and the live bytes the joiner is given after it meet at an exact byte boundary.
 */
export class ScreenModel implements Replay {
  /** The terminal, made when output comes and freed after a quiet period (then `saved` holds its screen). */
  private term: HeadlessTerminal | undefined;
  private ser: Serializer | undefined;
  /** The serialized screen of a freed terminal: exactly what a joiner is sent, and what a new terminal is rebuilt from. */
  private saved: string | undefined;
  private cols: number;
  private rows: number;
  private readonly quietMs: number;
  private lastActive = 0;
  private title = '';
  private pending: Buffer[] = [];
  /** Small chunks of output copied together, not yet in `pending` (which it follows). */
  private batch = EMPTY;
  private batchUsed = 0;
  private pendingBytes = 0;
  private inFlight = 0;
  private timer: NodeJS.Timeout | undefined;
  private disposed = false;
  /** Snapshots asked of the parser and not yet answered: the terminal is not freed under them. */
  private snapshotsWaiting = 0;
  /** Bytes the model skipped under a flood, for the log. */
  skipped = 0;
  /** Until the device has said anything, a joiner gets nothing (not even a reset): a binary peer sees only its bytes. */
  private fed = false;

  constructor(private readonly opts: ScreenOptions) {
    this.cols = Math.min(opts.cols, MAX_COLS);
    this.rows = Math.min(opts.rows, MAX_ROWS);
    this.quietMs = opts.quietMs ?? QUIET_MS;
  }

  /** Whether a terminal is held now (false before any output and after a quiet period). */
  get hydrated(): boolean {
    return this.term !== undefined;
  }

  /** The terminal, made on first use; a freed one is rebuilt from its saved screen, which the parser takes before any later byte. */
  private terminal(): HeadlessTerminal {
    if (!this.term) {
      // logLevel off: xterm logs every parsing error (binary output: a flood of random bytes
      // makes thousands a second) to the console, which cost a third of a pty flood's CPU and
      // filled ptybridge's stderr with "xterm.js: Parsing error" lines.
      const term = new Terminal({ cols: this.cols, rows: this.rows, scrollback: this.opts.scrollback, allowProposedApi: true, logLevel: 'off' });
      this.ser = new SerializeAddon();
      term.loadAddon(this.ser as never);
      term.onTitleChange((t) => (this.title = t));
      this.term = term;
      if (this.saved !== undefined) term.write(this.saved);
      this.saved = undefined;
      track(this, this.quietMs);
    }
    this.lastActive = performance.now();
    return this.term;
  }

  /**
   * Called by the shared sweeper: a terminal with nothing queued or in the parser that saw no
   * output for quietMs is freed. Returns about how many bytes that freed (0: not freed).
   */
  freeIfQuiet(now: number): number {
    if (!this.term || this.disposed) {
      live.delete(this);
      return 0;
    }
    if (this.pendingBytes > 0 || this.inFlight > 0 || this.snapshotsWaiting > 0 || now - this.lastActive < this.quietMs) return 0;
    const buffers = this.term.buffer;
    const freed = MODEL_BYTES + (buffers.normal.length + buffers.alternate.length) * this.term.cols * CELL_BYTES;
    this.saved = owned(this.serialize());
    this.term.dispose();
    this.term = undefined;
    this.ser = undefined;
    live.delete(this);
    return freed;
  }

  push(chunk: Buffer): void {
    if (this.disposed || chunk.length === 0) return;
    this.fed = true;
    if (chunk.length < COPY_BELOW) {
      // A console's keystroke echoes and prompts come a few bytes a read: copied into one
      // batch buffer, each chunk dies young instead of waiting out the batch as a Buffer
      // object of its own (which the young-generation GC then copies, and promotes).
      if (this.batch.length - this.batchUsed < chunk.length) this.sealBatch(BATCH_BYTES);
      chunk.copy(this.batch, this.batchUsed);
      this.batchUsed += chunk.length;
    } else {
      this.sealBatch(0);
      this.pending.push(chunk);
    }
    this.pendingBytes += chunk.length;
    if (this.pendingBytes > PENDING_MAX) this.skip();
    if (this.inFlight === 0) this.schedule(BATCH_MS);
  }

  resize(cols: number, rows: number): void {
    cols = Math.min(cols, MAX_COLS);
    rows = Math.min(rows, MAX_ROWS);
    if (this.disposed || (cols === this.cols && rows === this.rows)) return;
    // Nothing drawn yet: the terminal, when it comes, is made at the new size.
    if (!this.term && this.saved === undefined) {
      this.cols = cols;
      this.rows = rows;
      return;
    }
    // The bytes queued before the resize were drawn at the old size (and a saved screen too).
    const term = this.terminal();
    this.cols = cols;
    this.rows = rows;
    this.feed(true);
    term.write('', () => {
      if (!this.disposed && this.term === term) term.resize(cols, rows);
    });
  }

  snapshot(ready: (first: Buffer) => void): void {
    if (this.disposed || !this.fed) return ready(Buffer.alloc(0));
    // Freed with nothing after: the saved screen is the answer, byte for byte, with no terminal made.
    if (!this.term && this.saved !== undefined && this.pendingBytes === 0) return ready(Buffer.from(this.saved, 'utf8'));
    const term = this.terminal();
    this.feed(true);
    this.snapshotsWaiting++;
    term.write('', () => {
      this.snapshotsWaiting--;
      ready(this.disposed ? Buffer.alloc(0) : Buffer.from(this.serialize(), 'utf8'));
    });
  }

  view(): Promise<ScreenView> {
    // A freed model is rebuilt from its saved screen (terminal()): the view is of the live one.
    const term = this.terminal();
    this.feed(true);
    return new Promise((resolve) =>
      term.write('', () => {
        const b = term.buffer.active;
        const rows: string[] = [];
        for (let y = 0; y < term.rows; y++) rows.push(b.getLine(b.baseY + y)?.translateToString(true) ?? '');
        resolve({ rows, cursor: { x: b.cursorX, y: b.cursorY }, title: this.title, alternate: b.type === 'alternate', ansi: this.serialize() });
      }),
    );
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    clearTimeout(this.timer);
    this.pending = [];
    this.batch = EMPTY;
    this.batchUsed = 0;
    this.saved = undefined;
    this.term?.dispose();
    this.term = undefined;
    live.delete(this);
  }

  private schedule(ms: number): void {
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      this.feed(false);
    }, ms);
  }

  /**
   * Hands queued output to the parser: one slice, and the next only after this one is parsed
   * and the parser has rested; or all of it at once (`all`) when a snapshot or resize must
   * follow it.
   */
  private feed(all: boolean): void {
    if (this.disposed || this.pendingBytes === 0) return;
    if (!all && this.inFlight > 0) return; // the slice in flight schedules the next
    this.sealBatch(0);
    const term = this.terminal();
    const data = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending, this.pendingBytes);
    const upTo = all ? data.length : Math.min(SLICE, data.length);
    this.pending = upTo < data.length ? [data.subarray(upTo)] : [];
    this.pendingBytes = data.length - upTo;
    const started = performance.now();
    for (let off = 0; off < upTo; off += SLICE) {
      const slice = data.subarray(off, Math.min(off + SLICE, upTo));
      this.inFlight += slice.length;
      term.write(slice, () => {
        this.inFlight -= slice.length;
        if (this.inFlight === 0 && this.pendingBytes > 0) this.schedule(Math.max(BATCH_MS, (performance.now() - started) * REST));
      });
    }
  }

  /** Queues what the batch buffer holds (its memory then belongs to the queue); `size` > 0 starts a new one. */
  private sealBatch(size: number): void {
    if (this.batchUsed > 0) {
      this.pending.push(this.batch.subarray(0, this.batchUsed));
      this.batch = EMPTY;
      this.batchUsed = 0;
    }
    if (size > 0) this.batch = Buffer.allocUnsafe(size);
  }

  /** Drops all but the last KEEP_AFTER_SKIP bytes of the queue, from a line start where there is one. */
  private skip(): void {
    this.sealBatch(0);
    while (this.pendingBytes - this.pending[0]!.length >= KEEP_AFTER_SKIP) {
      const dropped = this.pending.shift()!;
      this.pendingBytes -= dropped.length;
      this.skipped += dropped.length;
    }
    const first = this.pending[0]!;
    const excess = this.pendingBytes - KEEP_AFTER_SKIP;
    if (excess <= 0) return;
    const nl = first.indexOf(0x0a, excess);
    const from = nl >= 0 && nl < first.length - 1 ? nl + 1 : excess;
    this.pending[0] = first.subarray(from);
    this.pendingBytes -= from;
    this.skipped += from;
  }

  /**
   * What a joiner's terminal needs to show this screen: a full reset (its old screen and
   * modes go), the title, the buffers with scrollback, cursor and modes (the serialize
   * addon), then what the addon leaves out: the scroll region, cursor visibility, SGR mouse.
   */
  private serialize(): string {
    let out = '\x1bc';
    if (this.title) out += `\x1b]0;${this.title.replace(/[\x00-\x1f\x7f]/g, '')}\x07`;
    out += this.ser!.serialize({ scrollback: this.opts.scrollback });
    // Internals, read defensively: the public API does not expose these.
    const core = (this.term as unknown as { _core?: XtermInternals })._core;
    const buffer = core?._bufferService?.buffer;
    if (buffer && typeof buffer.scrollTop === 'number' && typeof buffer.scrollBottom === 'number') {
      if (buffer.scrollTop !== 0 || buffer.scrollBottom !== this.term!.rows - 1) {
        // DECSTBM homes the cursor: save and restore it around the region.
        out += `\x1b7\x1b[${buffer.scrollTop + 1};${buffer.scrollBottom + 1}r\x1b8`;
      }
    }
    if (core?.coreMouseService?.activeEncoding === 'SGR') out += '\x1b[?1006h';
    if (core?.coreService?.isCursorHidden === true) out += '\x1b[?25l';
    return out;
  }
}

/**
 * The same text as one flat string. The serializer's is a rope of thousands of small pieces:
 * ~20 KB of heap for a 30-line screen, kept for as long as the console is idle.
 */
function owned(text: string): string {
  return Buffer.from(text, 'utf8').toString('utf8');
}

/** The few xterm internals serialize() reads, each optional: a new xterm may move any of them. */
interface XtermInternals {
  _bufferService?: { buffer?: { scrollTop?: unknown; scrollBottom?: unknown } };
  coreMouseService?: { activeEncoding?: unknown };
  coreService?: { isCursorHidden?: unknown };
}

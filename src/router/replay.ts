// What a peer that joins a shared device is shown first: the current screen (src/router/screen.ts), the last bytes, or nothing.
import type { ReplaySetting } from '../core/hub-settings.js';

/**
 * Fed with the device output in order; asked, when a peer joins, for what it gets before
 * the live stream. The caller holds the joiner's live bytes from the moment it calls
 * `snapshot` until `ready` runs, then sends `first` and those bytes: nothing is lost or
 * doubled between the two.
 */
export interface Replay {
  push(chunk: Buffer): void;
  /** The device's size changed; output after this is drawn at the new size. */
  resize(cols: number, rows: number): void;
  /** Calls `ready` (at once or later) with the state as of this call. */
  snapshot(ready: (first: Buffer) => void): void;
  /** The screen as rows of text (a screen model only). */
  view?(): Promise<import('../core/console-api.js').ScreenView>;
  /** The device was opened (again): a replay that starts at the boot starts over. */
  boot?(): void;
  dispose(): void;
}

/**
 * The replay a setting asks for: a screen model at the device's size, a byte ring, or none.
 * The terminal emulator loads only when a route needs one (start-up time, bench/results-binary.md).
 */
export async function makeReplay(setting: ReplaySetting, size: { cols: number; rows: number }): Promise<Replay> {
  switch (setting.mode) {
    case 'screen': {
      const { ScreenModel } = await import('./screen.js');
      return new ScreenModel({ cols: size.cols, rows: size.rows, scrollback: setting.scrollback });
    }
    case 'bytes':
      return new ByteReplay(setting.size);
    case 'since-boot':
      return new SinceBootReplay(setting.size);
    case 'off':
      return new ByteReplay(0);
  }
}

/** The last N bytes of output, in a fixed-size ring; pushing never allocates once the ring exists. */
export class ByteReplay implements Replay {
  private buf: Buffer | undefined;
  private start = 0;
  private len = 0;

  constructor(readonly capacity: number) {}

  get length(): number {
    return this.len;
  }

  push(chunk: Buffer): void {
    const cap = this.capacity;
    if (cap === 0 || chunk.length === 0) return;
    this.buf ??= Buffer.allocUnsafe(cap);
    if (chunk.length >= cap) {
      chunk.copy(this.buf, 0, chunk.length - cap);
      this.start = 0;
      this.len = cap;
      return;
    }
    const end = (this.start + this.len) % cap;
    const first = Math.min(chunk.length, cap - end);
    chunk.copy(this.buf, end, 0, first);
    if (first < chunk.length) chunk.copy(this.buf, 0, first);
    const total = this.len + chunk.length;
    if (total > cap) {
      this.start = (this.start + total - cap) % cap;
      this.len = cap;
    } else {
      this.len = total;
    }
  }

  resize(): void {}

  snapshot(ready: (first: Buffer) => void): void {
    ready(this.contents());
  }

  dispose(): void {
    this.buf = undefined;
    this.len = 0;
  }

  /** A copy of what the ring holds, oldest byte first. */
  contents(): Buffer {
    if (!this.buf || this.len === 0) return Buffer.alloc(0);
    const cap = this.capacity;
    const first = Math.min(this.len, cap - this.start);
    const out = Buffer.allocUnsafe(this.len);
    this.buf.copy(out, 0, this.start, this.start + first);
    if (first < this.len) this.buf.copy(out, first, 0, this.len - first);
    return out;
  }
}

/**
 * ?replay=since-boot: every byte since the device was last opened, for serial consoles whose
 * scroll-back is the point. Kept as the chunks came (no ring allocated up front), at most
 * `budget` bytes: past it the oldest chunks go, and the joiner is told how much of the boot
 * it does not get (the history files have it).
 */
export class SinceBootReplay implements Replay {
  private chunks: Buffer[] = [];
  private bytes = 0;
  /** Bytes since the boot that no longer fit the budget. */
  private dropped = 0;
  /** The last snapshot, shared by joiners until more output comes. */
  private joined: Buffer | undefined;

  constructor(readonly budget: number) {}

  get length(): number {
    return this.bytes;
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    // A device's read buffer may be reused for its next read: keep a copy.
    this.chunks.push(Buffer.from(chunk));
    this.bytes += chunk.length;
    this.joined = undefined;
    while (this.bytes > this.budget) {
      const excess = this.bytes - this.budget;
      const old = this.chunks[0]!;
      // A shared snapshot is one big chunk: cut its head rather than lose all of it.
      const cut = Math.min(excess, old.length);
      if (cut === old.length) this.chunks.shift();
      else this.chunks[0] = old.subarray(cut);
      this.bytes -= cut;
      this.dropped += cut;
    }
  }

  boot(): void {
    this.chunks = [];
    this.bytes = 0;
    this.dropped = 0;
    this.joined = undefined;
  }

  resize(): void {}

  snapshot(ready: (first: Buffer) => void): void {
    if (!this.joined) {
      this.joined = Buffer.concat(this.chunks);
      // One chunk, not many: joiners share it, and the next push keeps only what it needs.
      this.chunks = this.joined.length ? [this.joined] : [];
    }
    const cut = this.dropped
      ? Buffer.from(`[ptybridge: the first ${this.dropped} bytes since the boot are not replayed (more than ${this.budget}); the history files have them]\r\n`)
      : undefined;
    ready(cut ? Buffer.concat([cut, this.joined]) : this.joined);
  }

  dispose(): void {
    this.boot();
  }
}

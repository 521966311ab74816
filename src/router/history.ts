// ?history=DIR / --history ROOT: the console's output (and marks, input, resizes) as asciicast v2 files on disk, written behind the data path (docs/HISTORY.md).
import { mkdir, open, rm, stat, type FileHandle } from 'node:fs/promises';
import { listHistoryFiles } from '../core/history-files.js';
import { join } from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { performance } from 'node:perf_hooks';
import type { HistoryFile } from '../core/console-api.js';
import { EndpointError } from '../errors.js';
import type { Logger } from '../log.js';
import type { HubObserver } from './hub-observers.js';
import type { Peer } from './peer.js';

export type { HistoryFile };

/** A new file is started once the current one passes this (its header says `"boot": false`). */
export const STEP_BYTES = 16 * 1024 * 1024;
/** Output held in memory while the disk is slow; past it, bytes are counted and said in the file, not kept. */
export const QUEUE_BYTES = 64 * 1024 * 1024;
/** After a write failed (full or gone filesystem): how often writing is tried again. */
const RETRY_MS = 2000;
/** ?mark looks at each line up to this many characters: the pattern's cost per line is bounded. */
const MARK_LINE_CHARS = 512;
/** A mark's label (matched text, a peer's label) is cut to this. */
const LABEL_CHARS = 200;
/** Events whose data is longer are split: a reader never has to take one huge line. */
const EVENT_CHARS = 64 * 1024;

/** The names this module writes: `YYYY-MM-DDTHH-MM-SS.mmmZ.cast`, `-N` before `.cast` on a collision. */
export const CAST_NAME = /^(\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d\.\d{3}Z)(?:-\d{1,6})?\.cast$/;

export interface HistoryOptions {
  /** The console's directory (created 0700). */
  dir: string;
  /** The console's name: the header's title. */
  console: string;
  /** Most bytes of .cast files kept in `dir`. */
  max: number;
  mark?: RegExp;
  /** ?log-input: peers' input as "i" events. */
  logInput: boolean;
  size: { cols: number; rows: number };
  log: Logger;
  /** Bytes held while the disk is slow (QUEUE_BYTES). */
  queue?: number;
  /** Size step per file (STEP_BYTES; smaller when history-max is small). */
  step?: number;
}

export interface History extends HubObserver {
  /** The files of the directory, oldest first; the last is the one being written. */
  files(): HistoryFile[];
  /** The path of a file of the listing; undefined for any other name. */
  pathOf(name: string): string | undefined;
  /** Writes what is queued (waiting at most graceMs) and closes the file. */
  close(graceMs?: number): Promise<void>;
  /** What was written, and lost (disk too slow, full or gone), in device bytes; the queue's peak. */
  stats(): { recorded: number; lost: number; peakQueue: number };
}

type Entry =
  | { kind: 'file'; at: number; boot: boolean; device: string }
  | { kind: 'event'; at: number; code: 'o' | 'i' | 'r' | 'm'; data: string; bytes: number };

/** A wall clock with microseconds (asciicast times have 6 decimals). */
const now = () => performance.timeOrigin + performance.now();

/** Terminal escape sequences and CRs, taken out of a line before ?mark looks at it. */
const ESCAPES = /\x1b\[[0-?]*[ -/]*[@-~]|\x1b[\]P_^][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[ -/]*[0-~]|[\r\x00-\x08\x0b-\x1f\x7f]/g;

/** Any char outside [A-Za-z0-9._-] becomes `_`: a console's name as a directory name. */
export function historyDirName(name: string): string {
  const safe = name.replace(/[^A-Za-z0-9._-]/g, '_');
  return safe === '' || safe === '.' || safe === '..' ? `_${safe}` : safe;
}

/**
 * Opens (creates 0700) the console's history directory and lists what it holds. A directory
 * that cannot be made is a failure at start, as `--log` is: the user asked for a record.
 * Later failures (a full or gone filesystem) are one warning: the console keeps serving.
 */
export async function openHistory(opts: HistoryOptions): Promise<History> {
  const files: HistoryFile[] = [];
  try {
    await mkdir(opts.dir, { recursive: true, mode: 0o700 });
    // In the readers' order (core/history-files.ts): a `-N` twin after its plain name, `-2` before `-10`.
    for (const { name } of (await listHistoryFiles(opts.dir)).filter((f) => CAST_NAME.test(f.name))) {
      const st = await stat(join(opts.dir, name)).catch(() => undefined);
      if (!st?.isFile()) continue;
      files.push({ name, start: startOf(name), size: st.size, boot: await isBootFile(join(opts.dir, name)) });
    }
  } catch (err) {
    throw new EndpointError(`?history=${opts.dir}`, err);
  }
  return new Recorder(opts, files);
}

/** `2026-12-05T23-43-13.123Z.cast` -> `2026-12-05T23:43:13.123Z`. */
function startOf(name: string): string {
  const stamp = CAST_NAME.exec(name)![1]!;
  return `${stamp.slice(0, 13)}:${stamp.slice(14, 16)}:${stamp.slice(17)}`;
}

/** Whether a file's header says it starts a boot (read once, at start). */
async function isBootFile(path: string): Promise<boolean> {
  let fh: FileHandle | undefined;
  try {
    fh = await open(path, 'r');
    const buf = Buffer.alloc(4096);
    const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
    const line = buf.subarray(0, bytesRead).toString('utf8').split('\n')[0]!;
    return (JSON.parse(line) as { ptybridge?: { boot?: boolean } }).ptybridge?.boot === true;
  } catch {
    return false;
  } finally {
    await fh?.close().catch(() => {});
  }
}

class Recorder implements History {
  private readonly queue: Entry[] = [];
  private queued = 0;
  private peakQueue = 0;
  private writing: Promise<void> | undefined;
  private closed = false;
  /** Set once a write failed: new output is counted as lost until a retry opens a file again. */
  private failed = false;
  private retry: NodeJS.Timeout | undefined;
  /** Device bytes not recorded since the last time the file said so, and why. */
  private lost = { bytes: 0, why: '' };
  private totalLost = 0;
  private recorded = 0;
  /** A boot happened while nothing could be written: the file opened on resume starts one. */
  private bootWhileFailed = false;
  private fh: FileHandle | undefined;
  /** The file being written: its header's timestamp (ms) and its entry in `files`. */
  private current: { stampMs: number; file: HistoryFile } | undefined;
  private lastStart = 0;
  private decoder = new StringDecoder('utf8');
  private readonly inputDecoders = new WeakMap<Peer, StringDecoder>();
  private typist: string | undefined;
  private size: { cols: number; rows: number };
  private device = '';
  private line = '';
  private lineMarked = false;
  private lineTested = -1;
  private readonly queueLimit: number;
  private readonly step: number;
  /** Longest event data: EVENT_CHARS, less when the step is small (a file still holds many events). */
  private readonly eventChars: number;

  constructor(
    private readonly opts: HistoryOptions,
    private readonly list: HistoryFile[],
  ) {
    this.size = { ...opts.size };
    this.queueLimit = opts.queue ?? QUEUE_BYTES;
    // A small ?history-max still keeps several files, so removing the oldest keeps most of it.
    this.step = opts.step ?? Math.max(16 * 1024, Math.min(STEP_BYTES, Math.floor(opts.max / 4)));
    this.eventChars = Math.min(EVENT_CHARS, Math.floor(this.step / 16));
  }

  // --- what the hub tells (synchronous, never waiting) -------------------------------------

  deviceUp(label: string): void {
    this.device = label;
    this.endOutput();
    this.decoder = new StringDecoder('utf8');
    this.line = '';
    this.lineMarked = false;
    this.lineTested = -1;
    this.typist = undefined;
    const at = now();
    if (this.failed) {
      this.bootWhileFailed = true;
      return;
    }
    this.enqueue({ kind: 'file', at, boot: true, device: label }, 0);
    this.event('m', 'boot', 0, at);
  }

  deviceDown(_label: string, reason: string): void {
    this.endOutput();
    this.event('m', `device lost: ${reason}`.slice(0, LABEL_CHARS), 0);
  }

  deviceOutput(chunk: Buffer): void {
    if (this.closed) return;
    const text = this.decoder.write(chunk);
    if (this.failed || this.queued + chunk.length > this.queueLimit) {
      this.loseBytes(chunk.length, this.failed ? this.lost.why : 'the disk was too slow');
      return;
    }
    this.say();
    if (text) this.event('o', text, chunk.length);
    else this.recorded += chunk.length; // the first bytes of a character: in the next event
    if (this.opts.mark && text) this.scanMarks(text);
  }

  peerInput(peer: Peer, chunk: Buffer): void {
    if (!this.opts.logInput || this.closed || this.failed) return;
    let d = this.inputDecoders.get(peer);
    if (!d) this.inputDecoders.set(peer, (d = new StringDecoder('utf8')));
    const text = d.write(chunk);
    if (!text) return;
    if (this.typist !== peer.who) {
      this.typist = peer.who;
      this.event('m', `typed by ${peer.who}`.slice(0, LABEL_CHARS), 0);
    }
    this.event('i', text, 0);
  }

  resized(cols: number, rows: number): void {
    this.size = { cols, rows };
    this.event('r', `${cols}x${rows}`, 0);
  }

  marked(peer: Peer, label: string): void {
    this.event('m', `mark by ${peer.who}: ${label}`.slice(0, LABEL_CHARS), 0);
  }

  // --- reading -------------------------------------------------------------------------------

  files(): HistoryFile[] {
    return this.list.map((f) => ({ ...f }));
  }

  pathOf(name: string): string | undefined {
    return this.list.some((f) => f.name === name) ? join(this.opts.dir, name) : undefined;
  }

  stats() {
    return { recorded: this.recorded, lost: this.totalLost, peakQueue: this.peakQueue };
  }

  async close(graceMs = 5000): Promise<void> {
    if (this.closed) return;
    this.endOutput();
    this.say();
    this.closed = true;
    clearTimeout(this.retry);
    this.kick();
    // A stuck disk must not keep ptybridge from exiting.
    const timer = new Promise<void>((r) => setTimeout(r, graceMs).unref());
    await Promise.race([
      (async () => {
        while (this.writing) await this.writing;
      })(),
      timer,
    ]);
    await this.fh?.close().catch(() => {});
    this.fh = undefined;
    const s = this.stats();
    this.opts.log.info(`history ${this.opts.dir}: ${s.recorded} bytes recorded${s.lost ? `, ${s.lost} lost` : ''}; most queued at once ${s.peakQueue} bytes`, {
      event: 'history-closed',
      dir: this.opts.dir,
      ...s,
    });
  }

  // --- the queue -----------------------------------------------------------------------------

  /** What the decoder still holds (a character cut by a device loss) goes out as U+FFFD. */
  private endOutput(): void {
    const rest = this.decoder.end();
    if (rest) this.event('o', rest, 0);
  }

  private event(code: 'o' | 'i' | 'r' | 'm', data: string, bytes: number, at = now()): void {
    if (this.closed || this.failed) return;
    let i = 0;
    do {
      let end = Math.min(data.length, i + this.eventChars);
      // Never split a surrogate pair between two events.
      const high = data.charCodeAt(end - 1);
      if (end < data.length && high >= 0xd800 && high <= 0xdbff) end--;
      const last = end === data.length;
      // Output is weighed in device bytes (the bound is "this much output"), the rest in characters.
      this.enqueue({ kind: 'event', at, code, data: data.slice(i, end), bytes: last ? bytes : 0 }, i === 0 && last && bytes ? bytes : end - i);
      i = end;
    } while (i < data.length);
  }

  private enqueue(e: Entry, weight: number): void {
    if (this.closed) return;
    this.queue.push(e);
    this.queued += weight + 64;
    if (this.queued > this.peakQueue) this.peakQueue = this.queued;
    this.kick();
  }

  private loseBytes(bytes: number, why: string): void {
    this.lost.bytes += bytes;
    this.lost.why = why;
    this.totalLost += bytes;
  }

  /** Where bytes were lost, the file says how many and why, in place. */
  private say(): void {
    if (!this.lost.bytes || this.failed) return;
    const { bytes, why } = this.lost;
    this.lost = { bytes: 0, why: '' };
    this.event('m', `${bytes} bytes not recorded: ${why}`, 0);
  }

  private kick(): void {
    if (!this.writing && !this.failed && this.queue.length) this.writing = this.pump().finally(() => (this.writing = undefined));
  }

  private async pump(): Promise<void> {
    try {
      while (this.queue.length) {
        const batch = this.queue.splice(0);
        this.queued = 0;
        let out = '';
        let outBytes = 0;
        const flush = async () => {
          if (!out) return;
          const buf = Buffer.from(out, 'utf8');
          out = '';
          await this.write(buf);
          this.recorded += outBytes;
          outBytes = 0;
        };
        for (const e of batch) {
          if (e.kind === 'file') {
            await flush();
            await this.startFile(e.at, e.boot, e.device);
            continue;
          }
          if (!this.current) await this.startFile(e.at, false, this.device);
          if (this.current!.file.size + out.length > this.step) {
            await flush();
            await this.startFile(e.at, false, this.device);
          }
          const t = Math.max(0, (e.at - this.current!.stampMs) / 1000);
          out += `[${t.toFixed(6)}, ${JSON.stringify(e.code)}, ${JSON.stringify(e.data)}]\n`;
          outBytes += e.bytes;
          // Sizes count characters until written: near enough for the step, exact after.
        }
        await flush();
        await this.trim();
      }
    } catch (err) {
      this.fail(err);
    }
  }

  private async write(buf: Buffer): Promise<void> {
    let off = 0;
    while (off < buf.length) {
      const { bytesWritten } = await this.fh!.write(buf, off, buf.length - off);
      off += bytesWritten;
      this.current!.file.size += bytesWritten;
    }
  }

  /** Closes the current file and starts the next: a boot, or the next step of one. */
  private async startFile(at: number, boot: boolean, device: string): Promise<void> {
    await this.fh?.close();
    this.fh = undefined;
    this.current = undefined;
    // Strictly later than the last file: names never collide within one process, and sort as they were made.
    const startMs = Math.max(Math.floor(at), this.lastStart + 1);
    this.lastStart = startMs;
    const stamp = new Date(startMs).toISOString().replace(/:/g, '-');
    let name = `${stamp}.cast`;
    let fh: FileHandle | undefined;
    for (let n = 1; !fh; n++) {
      try {
        fh = await open(join(this.opts.dir, name), 'wx', 0o600);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || n > 1000) throw err;
        name = `${stamp}-${n}.cast`;
      }
    }
    this.fh = fh;
    const file: HistoryFile = { name, start: new Date(startMs).toISOString(), size: 0, boot };
    this.list.push(file);
    const stampMs = Math.floor(startMs / 1000) * 1000;
    this.current = { stampMs, file };
    const c = this.opts.console;
    const header = { version: 2, width: this.size.cols, height: this.size.rows, timestamp: stampMs / 1000, title: c, ptybridge: { console: c, boot, device } };
    await this.write(Buffer.from(`${JSON.stringify(header)}\n`));
  }

  /** ?history-max: the oldest whole files go until the rest fit; the one being written stays. */
  private async trim(): Promise<void> {
    let total = this.list.reduce((n, f) => n + f.size, 0);
    while (total > this.opts.max && this.list.length > 1) {
      const old = this.list.shift()!;
      total -= old.size;
      await rm(join(this.opts.dir, old.name), { force: true });
    }
  }

  /**
   * A write failed (ENOSPC, EIO, the directory gone): said once; what was queued and what
   * comes meanwhile is counted as lost; a new file is tried every RETRY_MS, and says how
   * much is missing when it starts.
   */
  private fail(err: unknown): void {
    const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    let bytes = 0;
    for (const e of this.queue.splice(0)) if (e.kind === 'event') bytes += e.bytes;
    this.queued = 0;
    this.failed = true;
    this.loseBytes(bytes, `history not written (${code})`);
    void this.fh?.close().catch(() => {});
    this.fh = undefined;
    this.current = undefined;
    this.opts.log.warn(`history ${this.opts.dir}: ${code}; recording paused, the console keeps serving; trying again every ${RETRY_MS / 1000}s`, {
      event: 'history-failed',
      dir: this.opts.dir,
      code,
    });
    if (!this.closed) this.retry = setTimeout(() => void this.resume(), RETRY_MS).unref();
  }

  private async resume(): Promise<void> {
    if (this.closed) return;
    try {
      await mkdir(this.opts.dir, { recursive: true, mode: 0o700 });
      await this.startFile(now(), this.bootWhileFailed, this.device);
      const { bytes, why } = this.lost;
      const note = `history resumed: ${bytes} bytes not recorded (${why.replace(/^history not written \((.*)\)$/, '$1')})`;
      const t = Math.max(0, (now() - this.current!.stampMs) / 1000);
      await this.write(Buffer.from(`${this.bootWhileFailed ? `[${t.toFixed(6)}, "m", "boot"]\n` : ''}[${t.toFixed(6)}, "m", ${JSON.stringify(note)}]\n`));
    } catch {
      await this.fh?.close().catch(() => {});
      this.fh = undefined;
      // A full filesystem often still makes empty files: one per try would pile up.
      const made = this.current?.file;
      this.current = undefined;
      if (made) {
        this.list.splice(this.list.indexOf(made), 1);
        await rm(join(this.opts.dir, made.name), { force: true }).catch(() => {});
      }
      this.retry = setTimeout(() => void this.resume(), RETRY_MS).unref();
      return;
    }
    this.opts.log.warn(`history ${this.opts.dir}: writing again (${this.lost.bytes} bytes were not recorded)`, {
      event: 'history-resumed',
      dir: this.opts.dir,
      lost: this.lost.bytes,
    });
    this.lost = { bytes: 0, why: '' };
    this.bootWhileFailed = false;
    this.failed = false;
    this.decoder = new StringDecoder('utf8');
    this.kick();
  }

  /** ?mark: each line of output (escape sequences out) is tried once it grows, and marks once. */
  private scanMarks(text: string): void {
    const re = this.opts.mark!;
    let i = 0;
    while (i <= text.length) {
      const nl = text.indexOf('\n', i);
      const piece = nl < 0 ? text.slice(i) : text.slice(i, nl);
      if (this.line.length < MARK_LINE_CHARS * 4) this.line += piece.slice(0, MARK_LINE_CHARS * 4 - this.line.length);
      if (!this.lineMarked && this.line.length !== this.lineTested) {
        this.lineTested = this.line.length;
        const clean = this.line.replace(ESCAPES, '').slice(0, MARK_LINE_CHARS);
        const m = re.exec(clean);
        if (m) {
          this.lineMarked = true;
          this.event('m', `mark: ${m[0]}`.slice(0, LABEL_CHARS), 0);
        }
      }
      if (nl < 0) break;
      this.line = '';
      this.lineMarked = false;
      this.lineTested = -1;
      i = nl + 1;
    }
  }
}

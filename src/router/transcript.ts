// The transcript (--log FILE): the device's output with timestamps at line starts, rotated by size, written off the data path; a target that blocks, fills or goes away costs the data nothing, and the gap is counted and marked.
import { close as fsClose, constants, fstat, lstat, open as fsOpen, stat, write as fsWrite, type Stats } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import net from 'node:net';
import { promisify } from 'node:util';
import type { Logger } from '../log.js';
import { describeOsError, EndpointError, PtybError, UsageError } from '../errors.js';
import { parseSize } from '../options.js';

export interface TranscriptOptions {
  /** Rotate when the file would pass this many bytes; 0: never. */
  maxSize: number;
  /** Old files kept on rotation: FILE.1 (newest) … FILE.keep. */
  keep: number;
  /** Bytes held in memory while the disk is slow; beyond this, data is dropped and counted. */
  buffer?: number;
  /** The path may be a FIFO (--log-fifo): written when a reader is there, counted as lost when not. */
  fifo?: boolean;
}

/**
 * A tap for the router: `data` gets every chunk that flows from the device side, `event`
 * records connects and disconnects. Both return at once; writing happens behind them.
 */
export interface Transcript {
  data(chunk: Buffer): void;
  event(text: string): void;
  /** Writes what is buffered (waiting at most graceMs) and closes the file. */
  close(graceMs?: number): Promise<void>;
}

/** What --metrics shows of one transcript. */
export interface TranscriptStatus {
  path: string;
  /** Being written now (false while its target is failing, gone or has no reader). */
  writing: boolean;
  /** Transcript bytes that never reached it, since start (too slow, or not writable). */
  lostBytes: number;
}

const live = new Set<() => TranscriptStatus>();
/** Every open transcript of this process, for a scrape. */
export function transcriptStatuses(): TranscriptStatus[] {
  return [...live].map((s) => s());
}

const stamp = (d = new Date()) => `[${d.toISOString()}] `;
const NL = 0x0a;
const DASH = 0x2d;
const BACKSLASH = 0x5c;
/** A target that failed is tried again this often; a file being written is looked up (deleted? moved?) this often. */
const RETRY_MS = 1000;

const openFd = promisify(fsOpen);
const fstatFd = promisify(fstat);
const closeFd = promisify(fsClose);
/** Never waits: a FIFO with no reader is ENXIO, a terminal that does not take bytes is EAGAIN; never follows a final symlink. */
const OPEN_FLAGS = constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW | constants.O_NONBLOCK;

const symlinkRefused = (path: string) =>
  new PtybError(
    'PTYB_ERR_OPEN',
    `--log ${path}: is a symbolic link, which --log does not follow (one planted in a shared directory would send the transcript elsewhere); give the file's own path`,
    1,
  );

/** Where the bytes go: a file (or /dev/null) through the thread pool, never blocking (O_NONBLOCK); a FIFO as a non-blocking pipe socket. */
interface Target {
  readonly kind: 'file' | 'fifo' | 'device';
  /** Bytes in the file (rotation). */
  size: number;
  /** Writes all of `b`, or rejects with how many bytes went out (`err.written`). */
  write(b: Buffer): Promise<void>;
  /** The file as opened (files only): deleted (nlink 0) or no longer at its path. */
  look(path: string): Promise<'here' | 'deleted' | 'moved'>;
  close(): void;
}

async function openTarget(path: string, fifoAllowed: boolean): Promise<Target> {
  const fd = await openFd(path, OPEN_FLAGS, 0o640);
  let st: Stats;
  try {
    st = await fstatFd(fd);
  } catch (err) {
    await closeFd(fd).catch(() => {});
    throw err;
  }
  if (st.isFIFO()) {
    if (!fifoAllowed) {
      await closeFd(fd).catch(() => {});
      throw fifoRefused(path);
    }
    return fifoTarget(fd);
  }
  return fileTarget(fd, st);
}

const fifoRefused = (path: string) =>
  new UsageError(
    `--log ${path} is a FIFO: its reader can stop or go away; add --log-fifo to write the transcript to it anyway (what no reader takes is counted as lost)`,
  );

function fifoTarget(fd: number): Target {
  const sock = new net.Socket({ fd, readable: false, writable: true });
  let failure: Error | undefined;
  sock.on('error', (err) => {
    failure ??= err;
  });
  return {
    kind: 'fifo',
    size: 0,
    write: (b) =>
      new Promise((resolve, reject) => {
        if (failure || sock.destroyed) return reject(Object.assign(failure ?? new Error('closed'), { written: 0 }));
        sock.write(b, (err) => (err ? reject(Object.assign(err, { written: 0 })) : resolve()));
      }),
    look: async () => 'here',
    close: () => sock.destroy(),
  };
}

function fileTarget(fd: number, opened: Stats): Target {
  let closed = false;
  const writeSome = (b: Buffer) => new Promise<number>((resolve, reject) => fsWrite(fd, b, 0, b.length, null, (err, n) => (err ? reject(err) : resolve(n))));
  const t: Target = {
    kind: opened.isFile() ? 'file' : 'device',
    size: opened.size,
    async write(b) {
      let done = 0;
      while (done < b.length) {
        try {
          if (closed) throw Object.assign(new Error('closed'), { code: 'EBADF' });
          const n = await writeSome(b.subarray(done));
          done += n;
          t.size += n;
        } catch (err) {
          // A terminal that does not take bytes now: wait, as for a slow disk, without holding a thread.
          if ((err as NodeJS.ErrnoException).code === 'EAGAIN') {
            await new Promise((r) => setTimeout(r, 50));
            continue;
          }
          throw Object.assign(err as Error, { written: done });
        }
      }
    },
    async look(path) {
      if (t.kind !== 'file') return 'here';
      const now = await fstatFd(fd);
      if (now.nlink === 0) return 'deleted';
      const there = await promisify(stat)(path).catch(() => undefined);
      return there && there.ino === now.ino && there.dev === now.dev ? 'here' : 'moved';
    },
    close() {
      if (closed) return;
      closed = true;
      fsClose(fd, () => {});
    },
  };
  return t;
}

/**
 * Opens (appends to) a transcript file. A file that cannot be opened is a failure at start
 * (EndpointError naming `--log FILE` and the OS error, exit 1): the user asked for a record.
 * A symbolic link is refused (exit 1), a FIFO unless `opts.fifo` (exit 2). Later failures
 * (full disk, EIO, the file or its directory removed, a FIFO's reader gone) are said once on
 * `log`, the bytes the transcript misses are counted, and writing resumes when the target
 * can be written again, with a line saying how many bytes are missing there.
 */
export async function openTranscript(path: string, opts: TranscriptOptions, log: Logger): Promise<Transcript> {
  const st = await promisify(lstat)(path).catch(() => undefined);
  if (st?.isSymbolicLink()) throw symlinkRefused(path);
  if (st?.isFIFO()) {
    if (!opts.fifo) throw fifoRefused(path);
    if (opts.maxSize > 0) throw new UsageError(`--log-max-size: --log ${path} is a FIFO, which cannot be rotated`);
  }
  let first: Target | undefined;
  try {
    first = await openTarget(path, opts.fifo ?? false);
  } catch (err) {
    if (err instanceof PtybError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ELOOP') throw symlinkRefused(path);
    // A FIFO nobody reads yet: written once a reader opens it.
    if (code !== 'ENXIO') throw new EndpointError(`--log ${path}`, err);
  }
  return transcriptOn(path, first, opts, log);
}

function transcriptOn(path: string, opened: Target | undefined, opts: TranscriptOptions, log: Logger): Transcript {
  const limit = opts.buffer ?? 4 * 1024 * 1024;
  const queue: Buffer[] = [];
  let queued = 0;
  let target: Target | undefined = opened;
  /**
   * up: writing (or idle); down: the target failed, data is counted, not kept; probing: the
   * target is being opened again, data is queued behind the line that will mark the gap.
   */
  let state: 'up' | 'down' | 'probing' = opened ? 'up' : 'down';
  /** Bytes of transcript missing at the current point, and why; the line that marks them is written where writing goes on. */
  let gap = 0;
  let gapWhy = '';
  let lostTotal = 0;
  /** The failure was said on stderr; said again only after writing resumed. */
  let told = false;
  /** When "too slow" was last said: at most once a minute, a disk that keeps up only now and then must not flood stderr. */
  let toldSlowAt = -Infinity;
  let retryTimer: NodeJS.Timeout | undefined;
  // Line state of the device's stream as queued, and of the file as written.
  let atLineStart = true;
  /** Whether the last byte queued (or, with nothing queued since, written) ended a line: where a marker line needs a line end first. */
  let placedAtLineStart = true;
  let fileAtLineStart = true;
  /** Dashes at a line start held until the line shows whether it would look like an event ("---"). */
  let heldDashes = 0;
  let deciding = false;
  let lastLook = Date.now();
  let writtenSinceLook = 0;
  let writing: Promise<void> | undefined;
  let closed = false;
  /** The batch being written: how much of it had not gone out when a write failed. */
  let inFlight = 0;
  /** The batch taken from the queue and being written: it counts against the limit until it is out. */
  let batchBytes = 0;

  const status = (): TranscriptStatus => ({ path, writing: state === 'up', lostBytes: lostTotal });
  live.add(status);

  const enqueue = (b: Buffer) => {
    queue.push(b);
    queued += b.length;
    placedAtLineStart = b[b.length - 1] === NL;
  };
  const lose = (n: number, why: string) => {
    if (n <= 0) return;
    if (gap === 0) gapWhy = why;
    gap += n;
    lostTotal += n;
    // What comes after a gap starts a line of its own, after the line that marks it.
    atLineStart = true;
    heldDashes = 0;
    deciding = false;
  };

  /**
   * Timestamps each line start in `chunk`; a line's stamp is the time its first byte arrived.
   * A line of the device that starts with "---" (what event lines start with) or with "\"
   * gets a "\" in front: no device output can write a line that reads as an event, and
   * dropping one leading "\" gives the device's bytes back.
   */
  const stampLines = (chunk: Buffer) => {
    const parts: Buffer[] = [];
    let from = 0;
    while (from < chunk.length) {
      if (atLineStart) {
        parts.push(Buffer.from(stamp()));
        atLineStart = false;
        deciding = true;
        heldDashes = 0;
      }
      while (deciding && from < chunk.length) {
        const b = chunk[from]!;
        if (b === DASH && heldDashes < 2) {
          heldDashes++;
          from++;
          continue;
        }
        if (b === DASH || (b === BACKSLASH && heldDashes === 0)) parts.push(Buffer.from('\\'));
        if (heldDashes) parts.push(Buffer.from('-'.repeat(heldDashes)));
        heldDashes = 0;
        deciding = false;
      }
      if (from >= chunk.length) break;
      const nl = chunk.indexOf(NL, from);
      const end = nl < 0 ? chunk.length : nl + 1;
      parts.push(chunk.subarray(from, end));
      atLineStart = nl >= 0;
      from = end;
    }
    return parts.length === 1 ? Buffer.from(parts[0]!) : Buffer.concat(parts);
  };
  /** Dashes held at a line start that an event (or the end) interrupts are device bytes: out they go. */
  const releaseHeld = () => {
    if (!deciding) return Buffer.alloc(0);
    deciding = false;
    const held = Buffer.from('-'.repeat(heldDashes));
    heldDashes = 0;
    return held;
  };

  const rotate = async () => {
    target?.close();
    target = undefined;
    if (opts.keep > 0) {
      await rm(`${path}.${opts.keep}`, { force: true });
      for (let i = opts.keep - 1; i >= 1; i--) await rename(`${path}.${i}`, `${path}.${i + 1}`).catch(() => {});
      await rename(path, `${path}.1`).catch(() => {});
    } else {
      await rm(path, { force: true });
    }
    target = await openTarget(path, opts.fifo ?? false);
    fileAtLineStart = true;
  };

  const writeOut = async (b: Buffer) => {
    inFlight = b.length;
    try {
      await target!.write(b);
    } catch (err) {
      inFlight -= (err as { written?: number }).written ?? 0;
      throw err;
    }
    inFlight = 0;
    writtenSinceLook += b.length;
    fileAtLineStart = b[b.length - 1] === NL;
  };

  /** Writes, rotating where the file would pass maxSize, at a line end when there is one. */
  const writeRotating = async (batch: Buffer) => {
    let rest = batch;
    while (rest.length) {
      let n = rest.length;
      if (opts.maxSize > 0 && target!.kind === 'file' && target!.size + n > opts.maxSize) {
        const size = target!.size;
        const room = Math.max(0, opts.maxSize - size);
        const nl = room > 0 ? rest.lastIndexOf(NL, room - 1) : -1;
        n = nl >= 0 ? nl + 1 : size === 0 ? Math.max(room, 1) : 0;
      }
      if (n === 0) {
        await rotate();
        continue;
      }
      await writeOut(rest.subarray(0, n));
      rest = rest.subarray(n);
    }
  };

  /**
   * Once a second of writing, whether the file is still the one at its path: deleted (its
   * directory removed: what went to it since the last look is lost) or moved away (log
   * rotation by another tool: opened again by its name, nothing lost).
   */
  const lookAtFile = async () => {
    if (Date.now() - lastLook < RETRY_MS) return;
    lastLook = Date.now();
    const seen = await target!.look(path);
    const since = writtenSinceLook;
    writtenSinceLook = 0;
    if (seen === 'deleted') throw Object.assign(new Error('the log file was deleted'), { code: 'DELETED', lostBefore: since });
    if (seen === 'moved') {
      target!.close();
      target = undefined;
      target = await openTarget(path, opts.fifo ?? false);
      fileAtLineStart = true;
    }
  };

  const pump = async () => {
    try {
      while (queue.length && state === 'up') {
        if (!target) {
          target = await openTarget(path, opts.fifo ?? false);
          fileAtLineStart = true;
        }
        await lookAtFile();
        const batch = Buffer.concat(queue.splice(0));
        queued = 0;
        batchBytes = batch.length;
        await writeRotating(batch);
        batchBytes = 0;
      }
    } catch (err) {
      goDown(err as NodeJS.ErrnoException);
    } finally {
      batchBytes = 0;
      writing = undefined;
    }
    // Written while the last batch was out.
    if (queue.length && state === 'up' && !closed) kick();
  };

  const why = (err: NodeJS.ErrnoException) =>
    err.code === 'DELETED'
      ? 'the log file was deleted'
      : err.code === 'EPIPE'
        ? "the FIFO's reader went away"
        : err.code === 'ENXIO'
          ? 'no reader on the FIFO'
          : describeOsError(err);

  /** The target failed: what was not written is lost, counted; it is tried again every second. */
  const goDown = (err: NodeJS.ErrnoException) => {
    const lostBefore = (err as { lostBefore?: number }).lostBefore ?? 0;
    lose(inFlight + queued + lostBefore, why(err));
    inFlight = 0;
    queue.length = 0;
    queued = 0;
    placedAtLineStart = fileAtLineStart;
    state = 'down';
    target?.close();
    target = undefined;
    if (!told) {
      told = true;
      log.error(`--log ${path}: ${why(err)}; the transcript misses what comes now (counted) until it can be written again, tried every ${RETRY_MS / 1000} s`, {
        event: 'log-failed',
        path,
      });
    }
    scheduleRetry();
  };

  const scheduleRetry = () => {
    if (closed || retryTimer) return;
    retryTimer = setTimeout(() => {
      retryTimer = undefined;
      if (!closed && state === 'down') writing = retry();
    }, RETRY_MS);
    retryTimer.unref();
  };

  /** Opens the target again and writes the line that marks the gap; data that comes meanwhile waits in the queue. */
  const retry = async () => {
    state = 'probing';
    const missing = gap;
    try {
      target = await openTarget(path, opts.fifo ?? false);
      if (target.kind !== 'file') fileAtLineStart = true;
      if (missing > 0)
        await writeOut(Buffer.from(`${fileAtLineStart ? '' : '\n'}${stamp()}--- ${missing} bytes lost: ${gapWhy}; written again from here ---\n`));
      gap -= missing;
      if (!queue.length) placedAtLineStart = fileAtLineStart;
      state = 'up';
      if (told)
        log.notice(`--log ${path}: written again; ${missing} bytes of transcript lost (marked in it)`, { event: 'log-resumed', path, lostBytes: missing });
      told = false;
      lastLook = Date.now();
      writtenSinceLook = 0;
    } catch {
      // The marker's own bytes are not transcript: a partial one is ended by the next one's line end.
      inFlight = 0;
      target?.close();
      target = undefined;
      state = 'down';
      lose(queued, gapWhy);
      queue.length = 0;
      queued = 0;
      placedAtLineStart = fileAtLineStart;
      scheduleRetry();
    } finally {
      writing = undefined;
    }
    if (state === 'up') kick();
  };

  /** Writes a marker line at the point of the transcript where it is made. */
  const note = (text: string) => {
    const held = releaseHeld();
    const line = `${placedAtLineStart && !held.length ? '' : '\n'}${stamp()}--- ${text} ---\n`;
    enqueue(held.length ? Buffer.concat([held, Buffer.from(line)]) : Buffer.from(line));
    atLineStart = true;
  };
  /** Where bytes were dropped for slowness, say how many, in place. */
  const gapText = () => (gapWhy === SLOW ? `${gap} bytes dropped: the log file was too slow` : `${gap} bytes lost: ${gapWhy}`);
  const noteDropped = () => {
    if (!gap || state !== 'up') return;
    note(gapText());
    gap = 0;
  };

  const kick = () => {
    if (!writing && state === 'up' && queue.length) writing = pump();
  };

  /** Takes transcript bytes: queued while there is room, else counted where they are missing. */
  const take = (make: () => Buffer) => {
    if (state === 'down') {
      lose(make().length, gapWhy);
      return;
    }
    const b = make();
    // The line that marks a gap goes in with the first bytes there is room for again, never alone.
    const mark = gap && state === 'up' ? Buffer.from(`${placedAtLineStart ? '' : '\n'}${stamp()}--- ${gapText()} ---\n`) : undefined;
    if (queued + batchBytes + (mark?.length ?? 0) + b.length > limit) {
      if (Date.now() - toldSlowAt >= 60_000) {
        toldSlowAt = Date.now();
        log.warn(`--log ${path}: more than ${limit} bytes wait for it; transcript bytes are dropped (counted, marked in it) until it takes them`, {
          event: 'log-slow',
          path,
        });
      }
      lose(b.length, SLOW);
      return;
    }
    if (mark) {
      enqueue(mark);
      gap = 0;
    }
    enqueue(b);
    kick();
  };

  if (!opened) {
    told = true;
    gapWhy = 'no reader on the FIFO';
    log.warn(`--log ${path}: no reader on the FIFO yet; the transcript's bytes are counted as lost until one opens it`, { event: 'log-failed', path });
    scheduleRetry();
  }

  return {
    data(chunk) {
      if (closed || chunk.length === 0) return;
      take(() => stampLines(chunk));
    },
    event(text) {
      if (closed) return;
      // An event's text (a user name, a label) can carry no line end or control byte into the file.
      const clean = text.replace(/[\x00-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
      if (state === 'down') {
        lose(Buffer.byteLength(`${stamp()}--- ${clean} ---\n`), gapWhy);
        return;
      }
      noteDropped();
      note(clean);
      kick();
    },
    async close(graceMs = 1000) {
      if (closed) return;
      if (state === 'up') {
        noteDropped();
        const held = releaseHeld();
        if (held.length) enqueue(held);
      }
      kick();
      closed = true;
      clearTimeout(retryTimer);
      // A stuck disk (or a FIFO nobody reads) must not keep ptybridge from exiting.
      const timer = new Promise<void>((r) => setTimeout(r, graceMs).unref());
      await Promise.race([
        (async () => {
          while (writing) await writing;
        })(),
        timer,
      ]);
      target?.close();
      target = undefined;
      live.delete(status);
    },
  };
}

const SLOW = 'the log file was too slow';

/** Transcript options from the CLI's --log-max-size, --log-keep (text) and --log-fifo, or a config route's. */
export function transcriptOptions(v: { 'log-max-size'?: string; 'log-keep'?: string; 'log-fifo'?: boolean }): TranscriptOptions {
  const maxSize = v['log-max-size'] === undefined ? 0 : parseSize(v['log-max-size']);
  if (maxSize === undefined) throw new UsageError(`--log-max-size expects a size such as 4096, 16k or 1M, got "${v['log-max-size']}"`);
  const keep = v['log-keep'] === undefined ? 5 : Number(v['log-keep']);
  if (!/^\d+$/.test(v['log-keep'] ?? '5') || keep > 1000) throw new UsageError(`--log-keep expects an integer 0-1000, got "${v['log-keep']}"`);
  return { maxSize, keep, fifo: v['log-fifo'] ?? false };
}

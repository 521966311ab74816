// The session transcript (--log FILE): the device's output with timestamps at line starts, rotated by size, never blocking data.
import { constants } from 'node:fs';
import { access, open, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import type { Logger } from '../log.js';
import { EndpointError, UsageError } from '../errors.js';
import { parseSize } from '../options.js';

export interface TranscriptOptions {
  /** Rotate when the file would pass this many bytes; 0: never. */
  maxSize: number;
  /** Old files kept on rotation: FILE.1 (newest) … FILE.keep. */
  keep: number;
  /** Bytes held in memory while the disk is slow; beyond this, data is dropped and counted. */
  buffer?: number;
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

const stamp = (d = new Date()) => `[${d.toISOString()}] `;
const NL = 0x0a;

/**
 * Opens (appends to) a transcript file. A file that cannot be opened is a failure at start
 * (EndpointError naming `--log FILE` and the OS error, exit 1): the user asked for a record.
 * Later write errors go to `log` once and stop the transcript, never the data.
 */
export async function openTranscript(path: string, opts: TranscriptOptions, log: Logger): Promise<Transcript> {
  let first: FileHandle | undefined;
  try {
    const st = await stat(path).catch(() => undefined);
    if (st && !st.isFile() && !st.isDirectory()) {
      // A FIFO (or a device): opening it waits for a reader, so only the permission is checked
      // now and the writer opens it in the background (the data never waits for it).
      await access(path, constants.W_OK);
    } else {
      first = await open(path, 'a', 0o640);
    }
  } catch (err) {
    throw new EndpointError(`--log ${path}`, err);
  }
  return transcriptOn(path, first, first ? (await first.stat()).size : 0, opts, log);
}

function transcriptOn(path: string, opened: FileHandle | undefined, openedSize: number, opts: TranscriptOptions, log: Logger): Transcript {
  const limit = opts.buffer ?? 4 * 1024 * 1024;
  const queue: Buffer[] = [];
  let queued = 0;
  let dropped = 0;
  let atLineStart = true;
  let fh: FileHandle | undefined = opened;
  let size = openedSize;
  let writing: Promise<void> | undefined;
  let failed = false;
  let closed = false;

  const enqueue = (b: Buffer) => {
    queue.push(b);
    queued += b.length;
  };

  /** Timestamps each line start in `chunk`; a line's stamp is the time its first byte arrived. */
  const stampLines = (chunk: Buffer) => {
    const parts: Buffer[] = [];
    let from = 0;
    while (from < chunk.length) {
      if (atLineStart) parts.push(Buffer.from(stamp()));
      const nl = chunk.indexOf(NL, from);
      const end = nl < 0 ? chunk.length : nl + 1;
      parts.push(chunk.subarray(from, end));
      atLineStart = nl >= 0;
      from = end;
    }
    return Buffer.concat(parts);
  };

  const reopen = async () => {
    fh = await open(path, 'a', 0o640);
    size = (await stat(path)).size;
  };

  const rotate = async () => {
    await fh?.close();
    fh = undefined;
    if (opts.keep > 0) {
      await rm(`${path}.${opts.keep}`, { force: true });
      for (let i = opts.keep - 1; i >= 1; i--) await rename(`${path}.${i}`, `${path}.${i + 1}`).catch(() => {});
      await rename(path, `${path}.1`).catch(() => {});
    } else {
      await rm(path, { force: true });
    }
    await reopen();
  };

  /** Writes, rotating where the file would pass maxSize, at a line end when there is one. */
  const writeRotating = async (batch: Buffer) => {
    let rest = batch;
    while (rest.length) {
      let n = rest.length;
      if (opts.maxSize > 0 && size + n > opts.maxSize) {
        const room = Math.max(0, opts.maxSize - size);
        const nl = room > 0 ? rest.lastIndexOf(NL, room - 1) : -1;
        n = nl >= 0 ? nl + 1 : size === 0 ? Math.max(room, 1) : 0;
      }
      if (n === 0) {
        await rotate();
        continue;
      }
      await fh!.write(rest.subarray(0, n));
      size += n;
      rest = rest.subarray(n);
    }
  };

  const pump = async () => {
    try {
      if (!fh) await reopen();
      while (queue.length) {
        const batch = Buffer.concat(queue.splice(0));
        queued = 0;
        await writeRotating(batch);
      }
    } catch (err) {
      if (!failed) log.error(`--log ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}; transcript stopped`);
      failed = true;
      queue.length = 0;
      queued = 0;
    } finally {
      writing = undefined;
    }
  };

  /** Writes a marker line at the point of the transcript where it is made. */
  const note = (text: string) => {
    enqueue(Buffer.from(`${atLineStart ? '' : '\n'}${stamp()}--- ${text} ---\n`));
    atLineStart = true;
  };
  /** Where bytes were dropped, say how many, in place. */
  const noteDropped = () => {
    if (!dropped) return;
    note(`${dropped} bytes dropped: the log file was too slow`);
    dropped = 0;
  };

  const kick = () => {
    if (!writing && !failed && queue.length) writing = pump();
  };

  return {
    data(chunk) {
      if (failed || closed || chunk.length === 0) return;
      if (queued + chunk.length > limit) {
        dropped += chunk.length;
        return;
      }
      noteDropped();
      enqueue(stampLines(chunk));
      kick();
    },
    event(text) {
      if (failed || closed) return;
      noteDropped();
      note(text);
      kick();
    },
    async close(graceMs = 2000) {
      if (closed) return;
      noteDropped();
      closed = true;
      kick();
      // A stuck disk (or a FIFO nobody reads) must not keep ptybridge from exiting.
      const timer = new Promise<void>((r) => setTimeout(r, graceMs).unref());
      await Promise.race([(async () => {
        while (writing) await writing;
      })(), timer]);
      await fh?.close().catch(() => {});
      fh = undefined;
    },
  };
}

/** Transcript options from the CLI's --log-max-size and --log-keep (text), or a config route's. */
export function transcriptOptions(v: { 'log-max-size'?: string; 'log-keep'?: string }): TranscriptOptions {
  const maxSize = v['log-max-size'] === undefined ? 0 : parseSize(v['log-max-size']);
  if (maxSize === undefined) throw new UsageError(`--log-max-size expects a size such as 4096, 16k or 1M, got "${v['log-max-size']}"`);
  const keep = v['log-keep'] === undefined ? 5 : Number(v['log-keep']);
  if (!/^\d+$/.test(v['log-keep'] ?? '5') || keep > 1000) throw new UsageError(`--log-keep expects an integer 0-1000, got "${v['log-keep']}"`);
  return { maxSize, keep };
}

// Joins two links: bytes both ways with backpressure, half-close, controls, byte counts, trace.
import type { ByteStream, PipeEnd } from '../core/link.js';
import type { Logger } from '../log.js';
import { describeOsError } from '../errors.js';
import { forwardControls } from './controls.js';
import { formatTrace } from './trace.js';
import { lendReads } from '../core/read-pool.js';

export interface JoinOptions {
  log: Logger;
  /** Writes a hex trace of both directions (-x). */
  trace?: (text: string) => void;
  /**
   * Sees every chunk read from a (`a`) or from b (`b`): the transcript's tap (`--log`). It must
   * copy what it keeps: a pooled socket's chunk memory is reused once the writer has sent it.
   */
  tap?: { a?: (chunk: Buffer) => void; b?: (chunk: Buffer) => void };
  /** After one side's input ended: how long nothing may move before both are closed (socat -t). */
  linger?: number;
}

/** socat's -t default: after one side's end, the other direction's last words have this long. */
export const LINGER_MS = 500;
/** A side whose reader takes none of what it is owed for this long is cut (lingering or closing). */
export const FLUSH_STALL_MS = 10_000;
/** How often a lingering join looks whether a reader that is behind has taken anything. */
const FLUSH_STALL_LOOK_MS = 250;

/**
 * A clock of a reader's progress: each call looks at `progress` (a number that changes when a
 * reader takes bytes) and says whether it has stood still for FLUSH_STALL_MS.
 */
function stallClock(progress: () => number): () => boolean {
  let last = progress();
  let since = Date.now();
  return () => {
    const p = progress();
    const now = Date.now();
    if (p !== last) {
      last = p;
      since = now;
    }
    return now - since >= FLUSH_STALL_MS;
  };
}

export interface JoinResult {
  /** Bytes from a to b and from b to a. */
  aToB: number;
  bToA: number;
  /** Set when the join ended because a side failed rather than by both ends closing. */
  error?: { link: ByteStream; err: Error };
}

/** A running join; `close()` ends both sides gracefully (flush, then shut). */
export interface Join {
  done: Promise<JoinResult>;
  close(graceMs?: number): Promise<JoinResult>;
}

/**
 * Pipes a↔b. When one side's input ends, the other's write side is shut (half-close, as
 * socat does), and the join lingers: it ends once the other direction has ended too, or
 * once that direction has been silent for `linger` ms (socat -t): a peer that closed
 * entirely looks exactly like one that half-closed, and a pty or a WebSocket has no
 * half-close at all, so waiting forever for the other direction would keep a command (and
 * a pty) per vanished peer. When the linger runs out, nothing more is read, and each side
 * is closed once what was sent to it has been handed over (as socat's close leaves it to
 * the kernel), or after `FLUSH_STALL_MS` in which its reader took nothing.
 * A side destroyed or failed ends the join at once; a side that is gone after its input
 * ended (a WebSocket's close) can take nothing more, so only the flush of what it sent is
 * still waited for.
 */
export function join(a: PipeEnd, b: PipeEnd, opts: JoinOptions): Join {
  const result: JoinResult = { aToB: 0, bToA: 0 };
  const linger = opts.linger ?? LINGER_MS;
  /** Streams whose write side is done: flushed and shut, or gone. */
  const writesDone = new Set<PipeEnd>();
  let settled = false;
  let lingerTimer: NodeJS.Timeout | undefined;
  let flushWatch: NodeJS.Timeout | undefined;
  let closing = false;
  let resolveDone!: (r: JoinResult) => void;
  const done = new Promise<JoinResult>((r) => (resolveDone = r));
  const unforward = [forwardControls(a, b, opts.log), forwardControls(b, a, opts.log)];

  const settle = () => {
    if (settled) return;
    settled = true;
    clearTimeout(lingerTimer);
    clearInterval(flushWatch);
    unforward.forEach((f) => f());
    a.stream.unpipe(b.stream);
    b.stream.unpipe(a.stream);
    a.stream.destroy();
    b.stream.destroy();
    resolveDone(result);
  };
  const writeDone = (l: PipeEnd) => {
    writesDone.add(l);
    if (writesDone.size === 2) settle();
  };
  // The linger ran out: read nothing more; close each side once it has what it is owed.
  const closeAfterLinger = () => {
    if (settled || closing) return;
    closing = true;
    opts.log.debug(`${a.label} <-> ${b.label}: one side ended and the other was silent for ${linger} ms; closing`);
    a.stream.unpipe(b.stream);
    b.stream.unpipe(a.stream);
    for (const { stream } of [a, b]) {
      stream.pause();
      if (stream.writableFinished || stream.destroyed) {
        stream.destroy();
      } else {
        stream.once('finish', () => stream.destroy());
        stream.end();
      }
    }
    const stalled = stallClock(() => a.stream.writableLength + b.stream.writableLength);
    flushWatch = setInterval(() => stalled() && settle(), 1000);
  };
  // Bytes ptybridge holds for a side (read from the other, not yet handed to the kernel):
  // while some are owed, silence means a slow reader, not a peer that has gone.
  // A side that is gone takes nothing more, so nothing is owed to it.
  const owedTo = (dst: ByteStream, src: ByteStream) => (dst.stream.destroyed ? 0 : dst.stream.writableLength + src.stream.readableLength);
  const owed = () => owedTo(a, b) + owedTo(b, a);
  // Grows whenever a reader takes something: what was read minus what still waits to be written.
  const delivered = () => result.aToB + result.bToA - a.stream.writableLength - b.stream.writableLength;
  let lastDataAt = 0;
  let readerStalled: (() => boolean) | undefined;
  // The linger ran out. A reader that is behind but still taking bytes keeps the join (socat's
  // kernel buffers would have delivered them): the linger is about the writer's silence. One
  // that takes nothing for FLUSH_STALL_MS is cut, so a peer that never reads holds nothing forever.
  const lingerRanOut = () => {
    if (settled || closing) return;
    const now = Date.now();
    if (owed() === 0) {
      // Looked early (a reader was behind): the writer's silence still gets its full linger.
      const silent = now - lastDataAt;
      if (silent >= linger) return closeAfterLinger();
      lingerTimer = setTimeout(lingerRanOut, linger - silent);
      return;
    }
    readerStalled ??= stallClock(delivered);
    if (readerStalled()) {
      opts.log.info(`${a.label} <-> ${b.label}: one side ended and the other's reader stalled for ${FLUSH_STALL_MS} ms with ${owed()} bytes owed; closing`);
      return settle();
    }
    lingerTimer = setTimeout(lingerRanOut, Math.min(linger, FLUSH_STALL_LOOK_MS));
  };
  const startLinger = () => {
    if (settled || lingerTimer) return;
    lastDataAt = Date.now();
    lingerTimer = setTimeout(lingerRanOut, linger);
  };
  const onClose = () => {
    if (closing && a.stream.destroyed && b.stream.destroyed) settle();
  };

  const flow = (src: PipeEnd, dst: PipeEnd, count: 'aToB' | 'bToA') => {
    const direction = `${src.label} > ${dst.label}`;
    const tap = count === 'aToB' ? opts.tap?.a : opts.tap?.b;
    src.stream.on('data', (chunk: Buffer) => {
      result[count] += chunk.length;
      if (lingerTimer) {
        lingerTimer.refresh();
        lastDataAt = Date.now();
      }
      tap?.(chunk);
      if (opts.trace) opts.trace(formatTrace(direction, chunk, count === 'aToB' ? '>' : '<'));
    });
    // Each chunk goes to this one writer (the counter, the trace and the tap only look at it),
    // so a source reading into pooled buffers may get them back from the writer (read-pool.ts).
    lendReads(src.stream, dst.stream);
    src.stream.pipe(dst.stream, { end: true });
    let ended = src.stream.readableEnded;
    src.stream.once('end', () => {
      ended = true;
      startLinger();
    });
    src.stream.once('close', () => {
      if (closing) return onClose();
      // Destroyed before its input ended (reset, killed process): nothing more will come.
      if (!ended) return settle();
      // Gone after its input ended (a WebSocket closed): it can take nothing more.
      writeDone(src);
    });
    src.stream.on('error', (err: Error) => {
      if (!result.error) result.error = { link: src, err };
      settle();
    });
    // A side may have finished, ended or gone before the join began (a peer that closed
    // while its upstream was still opening): its events have fired already.
    if (dst.stream.writableFinished) queueMicrotask(() => writeDone(dst));
    else dst.stream.once('finish', () => writeDone(dst));
    if (ended) startLinger();
    if (src.stream.destroyed) queueMicrotask(() => (ended ? writeDone(src) : settle()));
  };
  flow(a, b, 'aToB');
  flow(b, a, 'bToA');

  return {
    done,
    close(graceMs = 2000) {
      if (!settled) {
        a.stream.end();
        b.stream.end();
        const timer = setTimeout(settle, graceMs);
        timer.unref();
        done.then(() => clearTimeout(timer));
      }
      return done;
    },
  };
}

/** One line for -v when a join ends: labels and byte counts. */
export function describeJoin(a: ByteStream, b: ByteStream, r: JoinResult): string {
  const counts = `${a.label} > ${r.aToB} bytes > ${b.label}, ${b.label} > ${r.bToA} bytes > ${a.label}`;
  return r.error ? `${counts}; ended by ${r.error.link.label}: ${describeOsError(r.error.err)}` : counts;
}

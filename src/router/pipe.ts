// Joins two links: bytes both ways with backpressure, half-close, controls, byte counts, trace.
import type { Link } from '../endpoints/types.js';
import type { Logger } from '../log.js';
import { describeOsError } from '../errors.js';
import { forwardControls } from './controls.js';
import { formatTrace } from './trace.js';
import { lendReads } from '../endpoints/read-pool.js';

export interface JoinOptions {
  log: Logger;
  /** Writes a hex trace of both directions (-x). */
  trace?: (text: string) => void;
  /** Sees every chunk read from a (`a`) or from b (`b`): the session transcript's tap. */
  tap?: { a?: (chunk: Buffer) => void; b?: (chunk: Buffer) => void };
}

export interface JoinResult {
  /** Bytes from a to b and from b to a. */
  aToB: number;
  bToA: number;
  /** Set when the join ended because a side failed rather than by both ends closing. */
  error?: { link: Link; err: Error };
}

/** A running join; `close()` ends both sides gracefully (flush, then shut). */
export interface Join {
  done: Promise<JoinResult>;
  close(graceMs?: number): Promise<JoinResult>;
}

/**
 * Pipes a↔b. When one side's input ends, the other's write side is shut (half-close,
 * as socat does); the join is done when both directions are finished, or as soon as
 * either side fails or is destroyed.
 */
export function join(a: Link, b: Link, opts: JoinOptions): Join {
  const result: JoinResult = { aToB: 0, bToA: 0 };
  let finished = 0;
  let settled = false;
  let resolveDone!: (r: JoinResult) => void;
  const done = new Promise<JoinResult>((r) => (resolveDone = r));
  const unforward = [forwardControls(a, b, opts.log), forwardControls(b, a, opts.log)];

  const settle = () => {
    if (settled) return;
    settled = true;
    unforward.forEach((f) => f());
    a.stream.unpipe(b.stream);
    b.stream.unpipe(a.stream);
    a.stream.destroy();
    b.stream.destroy();
    resolveDone(result);
  };

  const flow = (src: Link, dst: Link, count: 'aToB' | 'bToA') => {
    const direction = `${src.label} > ${dst.label}`;
    const tap = count === 'aToB' ? opts.tap?.a : opts.tap?.b;
    src.stream.on('data', (chunk: Buffer) => {
      result[count] += chunk.length;
      tap?.(chunk);
      if (opts.trace) opts.trace(formatTrace(direction, chunk, count === 'aToB' ? '>' : '<'));
    });
    // Each chunk goes to this one writer (the counter and the trace only look at it), so a
    // source reading into pooled buffers may get them back from the writer (read-pool.ts).
    lendReads(src.stream, dst.stream);
    src.stream.pipe(dst.stream, { end: true });
    let ended = false;
    src.stream.once('end', () => (ended = true));
    dst.stream.once('finish', () => {
      if (++finished === 2) settle();
    });
    src.stream.once('close', () => {
      // Destroyed before its input ended (reset, killed process): nothing more will come.
      if (!ended) settle();
    });
    src.stream.on('error', (err: Error) => {
      if (!result.error) result.error = { link: src, err };
      settle();
    });
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
export function describeJoin(a: Link, b: Link, r: JoinResult): string {
  const counts = `${a.label} > ${r.aToB} bytes > ${b.label}, ${b.label} > ${r.bToA} bytes > ${a.label}`;
  return r.error ? `${counts}; ended by ${r.error.link.label}: ${describeOsError(r.error.err)}` : counts;
}

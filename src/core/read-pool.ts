// Socket reads into recycled buffers: a chunk's buffer is reused once the one writer it went to has sent it.
// Node allocates a fresh 64 KiB ArrayBuffer for every socket read; at hundreds of MB/s that
// external memory is what drives V8 into back-to-back mark-compact collections (a third of
// the CPU of tcp → ws forwarding). Here a connecting socket reads into its own 256 KiB
// buffers (net's `onread`: also 4× fewer reads, chunks and frames than libuv's 64 KiB) and
// hands out views of them. A buffer is lent out only when join() has said that this
// socket's output goes to exactly one writer and that writer gives chunks back
// (`lendReads`); it returns to the pool when that writer is done with the chunk
// (`releaseChunk`, once the bytes reached the kernel or were copied). Every other read is
// copied out at its exact length and the read buffer reused at once.
import type net from 'node:net';
import type { Readable, Writable } from 'node:stream';

/** Bytes per read, at most. */
export const READ_SIZE = 256 * 1024;
/** Shorter reads are copied out, so a lent chunk pins at most 4× its own size. */
const COPY_BELOW = READ_SIZE / 4;
/** Free buffers kept for reuse (the rest go to the GC): 2 MiB. */
const KEEP = 8;

const free: Buffer[] = [];
/** Buffers lent out under the one-writer promise, by their memory; weak, so a chunk never released costs nothing. */
const lent = new WeakSet<ArrayBufferLike>();
const LENDS = Symbol('ptybridge.lendReads');

function take(): Buffer {
  return free.pop() ?? Buffer.allocUnsafeSlow(READ_SIZE);
}

/**
 * `onread` options for net.connect: reads land in pooled buffers and are pushed into the
 * socket's own readable side, so the socket stays an ordinary Duplex (backpressure: a full
 * readable buffer returns false, which stops reading until the consumer reads again).
 */
export function pooledReads(socket: () => net.Socket): net.OnReadOpts {
  let buf = take();
  let keep = false;
  return {
    buffer: () => {
      if (!keep) buf = take();
      return buf;
    },
    callback: (n: number, into: Uint8Array) => {
      const s = socket();
      keep = n < COPY_BELOW || !(s as Socketish)[LENDS];
      if (keep) return s.push(Buffer.from(into.subarray(0, n)));
      const chunk = (into as Buffer).subarray(0, n);
      lent.add(chunk.buffer);
      return s.push(chunk);
    },
  };
}

type Socketish = Readable & { [LENDS]?: boolean };
const releasers = new WeakSet<Writable>();

/** A writer promises to call releaseChunk for every chunk it is done with (WsStream). */
export function givesChunksBack(writer: Writable): void {
  releasers.add(writer);
}

/**
 * join(): every chunk `reader` emits from now on goes to `writer` alone (byte counters and
 * the trace only look at it); if that writer gives chunks back, the reader may lend.
 */
export function lendReads(reader: Readable, writer: Writable): void {
  if (releasers.has(writer)) (reader as Socketish)[LENDS] = true;
}

/** A writer is done with a chunk (sent or copied): its buffer may be reused if it was lent. */
export function releaseChunk(chunk: Buffer): void {
  if (chunk.byteLength >= COPY_BELOW && lent.delete(chunk.buffer) && free.length < KEEP) {
    free.push(Buffer.from(chunk.buffer, 0, READ_SIZE));
  }
}

// Socket reads into recycled buffers: a chunk's buffer is reused once the one writer it went to has sent it.
// Node allocates a fresh 64 KiB ArrayBuffer for every socket read; at hundreds of MB/s that
// external memory is what drives V8 into back-to-back mark-compact collections (a third of
// the CPU of tcp → ws forwarding). Here a stream socket, connecting or accepted, reads into
// its own 256 KiB buffers (net's `onread`: also 4× fewer reads, chunks and writes than
// libuv's 64 KiB) and hands out views of them. A buffer is lent out only when join() has
// said that this socket's output goes to exactly one writer and that writer gives chunks
// back (`lendReads`): a WebSocket stream that says so, or a plain net.Socket, whose write
// callback comes once the kernel has the bytes. It returns to the pool when that writer is
// done with the chunk (`releaseChunk`). Every other read is copied out at its exact length
// and the read buffer reused at once.
import net from 'node:net';
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

/** Node's private slots for `onread` (lib/net.js), found by their descriptions on a socket. */
type OnreadSlots = { buffer: symbol; callback: symbol; generator: symbol };
let slots: OnreadSlots | null | undefined;

function onreadSlots(socket: net.Socket): OnreadSlots | null {
  if (slots !== undefined) return slots;
  const own = Object.getOwnPropertySymbols(socket);
  const find = (name: string) => own.find((s) => s.description === name);
  const [buffer, callback, generator] = [find('kBuffer'), find('kBufferCb'), find('kBufferGen')];
  slots = buffer && callback && generator ? { buffer, callback, generator } : null;
  return slots;
}

/**
 * Gives an accepted socket the pooled reads a connecting one gets from `onread`: net.Server
 * has no such option, so the socket is set up as net.Socket's constructor sets up `onread`
 * (its three private slots, then the handle's user buffer). Call it in the server's
 * 'connection' handler, before the first read is delivered. Returns false, leaving Node's
 * own reads in place, where this Node does not have those slots (or the socket is no plain
 * stream socket: TLS, or already pooled).
 */
export function poolAcceptedReads(socket: net.Socket): boolean {
  const handle = (socket as unknown as { _handle?: { useUserBuffer?: (b: Uint8Array) => void } })._handle;
  const s = onreadSlots(socket);
  const bag = socket as unknown as Record<symbol, unknown>;
  if (
    !s ||
    typeof handle?.useUserBuffer !== 'function' ||
    Object.getPrototypeOf(socket) !== net.Socket.prototype ||
    bag[s.buffer] !== null ||
    socket.bytesRead > 0
  )
    return false;
  const { buffer, callback } = pooledReads(() => socket);
  const first = (buffer as () => Uint8Array)();
  bag[s.generator] = buffer;
  bag[s.callback] = callback;
  bag[s.buffer] = first;
  handle.useUserBuffer(first);
  return true;
}

/**
 * A plain net.Socket gives chunks back by itself: its write callback comes once libuv has
 * handed the bytes to the kernel (until then the write request holds the buffer), so its
 * `_write`/`_writev` are wrapped, once, to release each chunk there.
 */
function releaseOnWrite(writer: Writable): boolean {
  if (releasers.has(writer)) return true;
  if (Object.getPrototypeOf(writer) !== net.Socket.prototype) return false;
  const socket = writer as net.Socket & {
    _write(chunk: Buffer, encoding: BufferEncoding, cb: (err?: Error | null) => void): void;
    _writev(chunks: { chunk: Buffer }[], cb: (err?: Error | null) => void): void;
  };
  const write = socket._write;
  const writev = socket._writev;
  socket._write = function (chunk, encoding, cb) {
    write.call(this, chunk, encoding, (err) => {
      if (Buffer.isBuffer(chunk)) releaseChunk(chunk);
      cb(err);
    });
  };
  socket._writev = function (chunks, cb) {
    writev.call(this, chunks, (err) => {
      for (const c of chunks) if (Buffer.isBuffer(c.chunk)) releaseChunk(c.chunk);
      cb(err);
    });
  };
  releasers.add(writer);
  return true;
}

/** A writer promises to call releaseChunk for every chunk it is done with (WsStream). */
export function givesChunksBack(writer: Writable): void {
  releasers.add(writer);
}

/**
 * join(): every chunk `reader` emits from now on goes to `writer` alone (byte counters and
 * the trace only look at it); if that writer gives chunks back, the reader may lend.
 */
export function lendReads(reader: Readable, writer: Writable): void {
  if (releaseOnWrite(writer)) (reader as Socketish)[LENDS] = true;
}

/** A writer is done with a chunk (sent or copied): its buffer may be reused if it was lent. */
export function releaseChunk(chunk: Buffer): void {
  if (chunk.byteLength >= COPY_BELOW && lent.delete(chunk.buffer) && free.length < KEEP) {
    free.push(Buffer.from(chunk.buffer, 0, READ_SIZE));
  }
}

// Socket reads into recycled buffers: a chunk's buffer is reused once the one writer it went to has sent it.
// Node allocates a fresh 64 KiB ArrayBuffer for every socket read; at hundreds of MB/s that
// external memory is what drives V8 into back-to-back mark-compact collections (a third of
// the CPU of tcp → ws forwarding). Here a stream socket, connecting or accepted, reads into
// its own 256 KiB buffers (net's `onread`: also 4× fewer reads, chunks and writes than
// libuv's 64 KiB) and hands out views of them. A buffer is lent out only when join() has
// said that this socket's output goes to exactly one writer and that writer gives chunks
// back (`lendReads`): a WebSocket stream that says so, or a plain net.Socket, whose write
// callback comes once the kernel has the bytes. Reads are laid one after the other in the
// buffer (a short read, 8 KiB from a paced VNC server, is lent where it landed, not copied
// into memory of its own: that copy and its allocation were a tenth of the CPU of a paced
// tcp → ws stream); the buffer returns to the pool once the reader has moved on to the next
// and the writer is done with every chunk of it (`releaseChunk`). Reads of a socket whose
// writer does not give chunks back are copied out at their exact length and the buffer reused.
import net from 'node:net';
import type { Readable, Writable } from 'node:stream';

/** Bytes per read, at most. */
export const READ_SIZE = 256 * 1024;
/** A read goes into the rest of the current buffer while this much is left, else into the next buffer. */
const MIN_ROOM = READ_SIZE / 2;
/** Free buffers kept for reuse (the rest go to the GC): 2 MiB. */
const KEEP = 8;

/** A read buffer and the chunks of it that are lent out. */
interface Slab {
  readonly buf: Buffer;
  /** Chunks handed to a writer and not given back yet. */
  out: number;
  /** The reader has moved on to another buffer: this one is free once `out` is 0. */
  retired: boolean;
}

const free: Buffer[] = [];
/** The slab of each buffer with lent chunks, by its memory; weak, so a chunk never given back costs nothing. */
const slabs = new WeakMap<ArrayBufferLike, Slab>();
/** The chunks lent out, each given back once (a view of one, or a second release, changes nothing). */
const lent = new WeakSet<Buffer>();
const LENDS = Symbol('ptybridge.lendReads');

function take(): Slab {
  const slab: Slab = { buf: free.pop() ?? Buffer.allocUnsafeSlow(READ_SIZE), out: 0, retired: false };
  slabs.set(slab.buf.buffer, slab);
  return slab;
}

function recycle(slab: Slab): void {
  slabs.delete(slab.buf.buffer);
  if (free.length < KEEP) free.push(slab.buf);
}

/**
 * `onread` options for net.connect: reads land in pooled buffers and are pushed into the
 * socket's own readable side, so the socket stays an ordinary Duplex (backpressure: a full
 * readable buffer returns false, which stops reading until the consumer reads again).
 */
export function pooledReads(socket: () => net.Socket): net.OnReadOpts {
  let slab = take();
  /** Where the next read lands in the slab: after the chunks lent from it. */
  let at = 0;
  let view: Buffer | undefined;
  return {
    buffer: () => {
      // Every chunk of this slab is back: the next read starts over at its beginning (warm in the cache).
      if (slab.out === 0 && at !== 0) {
        at = 0;
        view = undefined;
      }
      if (READ_SIZE - at < MIN_ROOM) {
        slab.retired = true;
        if (slab.out === 0) recycle(slab);
        slab = take();
        at = 0;
        view = undefined;
      }
      view ??= at === 0 ? slab.buf : slab.buf.subarray(at);
      return view;
    },
    callback: (n: number, into: Uint8Array) => {
      const s = socket();
      if (!(s as Socketish)[LENDS]) return s.push(Buffer.from(into.subarray(0, n)));
      const chunk = (into as Buffer).subarray(0, n);
      lent.add(chunk);
      slab.out++;
      at += n;
      view = undefined;
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
  if (!lent.delete(chunk)) return;
  const slab = slabs.get(chunk.buffer);
  if (slab && --slab.out === 0 && slab.retired) recycle(slab);
}

// A server's binary data frame written straight to the WebSocket's socket: one header, then the payload chunks as they are.
import type net from 'node:net';
import type WebSocket from 'ws';

/** What `ws` keeps of its connection (ws 8): the socket, and whether its sender is idle. */
interface WsInternals {
  _isServer?: boolean;
  _socket?: net.Socket;
  _sender?: { _state?: number; _queue?: unknown[] };
}

/** Payloads up to this size are copied behind their header (one buffer from Node's pool, one write); larger ones are not copied. */
const COPY_MAX = 1024;

/** The header of an unmasked final binary frame (FIN, opcode 2) of `length` bytes (RFC 6455 §5.2). */
export function binaryFrameHeader(length: number, into?: Buffer): Buffer {
  const size = length < 126 ? 2 : length < 65536 ? 4 : 10;
  const head = into ?? Buffer.allocUnsafe(size);
  head[0] = 0x82;
  if (length < 126) {
    head[1] = length;
  } else if (length < 65536) {
    head[1] = 126;
    head.writeUInt16BE(length, 2);
  } else {
    head[1] = 127;
    head.writeUInt32BE(Math.floor(length / 2 ** 32), 2);
    head.writeUInt32BE(length >>> 0, 6);
  }
  return head;
}

/**
 * Sends `chunks` as one binary message, as `ws.send(Buffer.concat(chunks), {binary: true})`
 * would, but without the concatenation and without ws's per-message work: the header and
 * the chunks go to the socket corked, so they leave in one writev. `cb` comes once the
 * socket has written the last chunk (the kernel has it).
 *
 * Only a server's frames (unmasked), and only while ws's sender is idle: its queue is used
 * for compression and Blobs (neither is on here); when it is not idle, or ws is not the one
 * this was written for, ws sends the message itself, in order behind what it queued.
 * Control frames (ping, pong, close) ws writes synchronously on the same socket, so they
 * never land inside a frame written here.
 */
export function sendBinary(ws: WebSocket, chunks: Buffer[], cb: (err?: Error | null) => void): void {
  const w = ws as unknown as WsInternals;
  const socket = w._socket;
  let length = 0;
  for (const c of chunks) length += c.length;
  if (!w._isServer || !socket || w._sender?._state !== 0 || w._sender._queue?.length || socket.destroyed) {
    return ws.send(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, length), { binary: true }, cb);
  }
  if (length <= COPY_MAX) {
    const frame = Buffer.allocUnsafe((length < 126 ? 2 : 4) + length);
    binaryFrameHeader(length, frame);
    let at = frame.length - length;
    for (const c of chunks) at += c.copy(frame, at);
    socket.write(frame, cb);
    return;
  }
  socket.cork();
  socket.write(binaryFrameHeader(length));
  for (let i = 0; i < chunks.length - 1; i++) socket.write(chunks[i]!);
  socket.write(chunks[chunks.length - 1]!, cb);
  socket.uncork();
}

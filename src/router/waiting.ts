// A peer parked until a partner arrives (rendezvous): its input is watched so that a peer
// that leaves while waiting is let go at once instead of holding a descriptor forever.
import type { ByteStream } from '../core/link.js';

/** Input held per waiting peer before it is paused (backpressure then reaches its sender). */
export const HOLD_LIMIT = 64 * 1024;

/**
 * Watches a waiting peer. A peer whose input ends (FIN: it closed, or shut its write side
 * with nobody yet to hear it) is destroyed; `onGone` runs once it is closed. Returns
 * `take()`, which stops watching and puts any input read meanwhile back at the front of the
 * stream, so the join that follows sees every byte in order.
 */
export function park(peer: ByteStream, onGone: () => void): () => void {
  const stream = peer.stream;
  const held: Buffer[] = [];
  let size = 0;
  const onData = (chunk: Buffer) => {
    held.push(chunk);
    size += chunk.length;
    if (size >= HOLD_LIMIT) stream.pause();
  };
  // Reading is the only way to see a FIN; without it a vanished peer would wait forever.
  const onEnd = () => stream.destroy();
  const onClose = () => {
    stop();
    onGone();
  };
  let parked = true;
  const stop = () => {
    parked = false;
    stream.off('data', onData);
    stream.off('end', onEnd);
    stream.off('close', onClose);
  };
  stream.on('data', onData);
  stream.once('end', onEnd);
  stream.once('close', onClose);
  // A peer can be gone before it is parked (its RST read while its door still admitted it):
  // its 'end' or 'close' has been and will not come again. onGone runs after park returns,
  // once the caller has put the peer in its list (and not if it was taken meanwhile).
  if (stream.closed) queueMicrotask(() => parked && onClose());
  else if (stream.readableEnded) stream.destroy();
  return () => {
    stop();
    stream.pause();
    if (held.length) stream.unshift(Buffer.concat(held));
  };
}

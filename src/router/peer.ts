// One peer of the hub: its bounded output queue, its byte counts, and how it leaves.
import type { Link } from '../endpoints/types.js';

/**
 * A peer's output queue is its stream's own write buffer (`writableLength`): the hub
 * writes each device chunk to every peer at once and never waits for one. A peer whose
 * buffer passes `limit` is dropped (disconnected), not skipped ahead: a gap in the middle
 * of a terminal stream (half an escape sequence, half a UTF-8 character) garbles the
 * screen with no sign of it, while a dropped viewer knows, can reconnect and is given the
 * replay. Either way the device and the other peers never wait for it, and memory stays
 * bounded by limit + one chunk per peer.
 */
export class Peer {
  /** Bytes sent to the peer (device output, replay) and received from it. */
  out = 0;
  in = 0;
  /** Input refused by the policy or discarded while the device was down. */
  refused = 0;
  /** The part of `refused` discarded while the device was down. */
  refusedWhileDown = 0;
  dropped = false;
  left = false;
  /** Set once the peer has been told it cannot type, so that it is told only once. */
  toldReadOnly = false;
  readonly joinedAt = Date.now();

  constructor(
    readonly link: Link,
    private readonly limit: number,
    private readonly onDrop: (peer: Peer, queued: number) => void,
  ) {}

  get label(): string {
    return this.link.label;
  }

  /** Queues device output for the peer; drops the peer if its queue passes the limit. */
  send(chunk: Buffer): void {
    if (this.dropped || this.left) return;
    const s = this.link.stream;
    if (s.destroyed || s.writableEnded) return;
    s.write(chunk);
    this.out += chunk.length;
    if (s.writableLength > this.limit) this.drop();
  }

  /** A line from ptybridge itself (device lost, read-only); not counted, not replayed. */
  notice(text: string): void {
    if (this.dropped || this.left) return;
    const s = this.link.stream;
    if (!s.destroyed && !s.writableEnded) s.write(`\r\n[ptybridge: ${text}]\r\n`);
  }

  private drop(): void {
    const queued = this.link.stream.writableLength;
    this.dropped = true;
    this.link.stream.destroy();
    this.onDrop(this, queued);
  }

  /** Flushes and closes; destroys after `graceMs` if the peer does not take its last bytes. */
  close(graceMs = 2000): Promise<void> {
    const s = this.link.stream;
    if (s.destroyed) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => s.destroy(), graceMs);
      timer.unref();
      s.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
      s.end();
      // A stream whose other side already half-closed may never emit close by itself.
      s.once('finish', () => setImmediate(() => s.destroy()));
    });
  }
}

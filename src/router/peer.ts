// One peer of the hub: its bounded output queue, its byte counts, and how it leaves.
import type { PeerLink } from '../core/link.js';
import type { KeyboardState, Role } from '../core/roles.js';

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
  /** The kind of door it came through (ws-listen, telnet…), for metrics. */
  door = 'other';
  /** Set once the peer has been told it cannot type, so that it is told only once. */
  toldReadOnly = false;
  readonly joinedAt = Date.now();
  /** While the peer waits for its first bytes (the screen being serialized): its live bytes, in order. */
  private held: { chunk: Buffer; counted: boolean }[] | undefined;
  private heldBytes = 0;
  private heldTell: (() => void) | undefined;
  /**
   * Room past the limit for a replay larger than it (?replay=since-boot): the joiner is not
   * dropped for the history it asked for, only for falling behind once it has taken it.
   */
  private slack = 0;

  constructor(
    readonly link: PeerLink,
    private readonly limit: number,
    private readonly onDrop: (peer: Peer, queued: number) => void,
  ) {
    this.following = link.follows === true && link.tell !== undefined;
  }

  /** The link's label, and the peer's name when it has one: "ws 127.0.0.1:53122 (alice)". */
  get label(): string {
    return this.link.user === undefined ? this.link.label : `${this.link.label} (${this.link.user})`;
  }

  get role(): Role {
    return this.link.role ?? 'full';
  }

  get user(): string | undefined {
    return this.link.user;
  }

  /** How others are told about this peer: its name, else its address. */
  get who(): string {
    return this.link.user ?? this.link.label;
  }

  /** What the peer was last told about the keyboard: a peer without a page gets a line only when its own state changes. */
  private told: string | undefined;

  /**
   * Whether the peer asked to be told the keyboard state as it is (a page, a ws: client):
   * a plain WebSocket client that did not ask (websocat) never gets a JSON message it did not expect.
   */
  following = false;

  /** Shows the keyboard state: the page's badge, or one line when this peer's own state changed. */
  tell(state: KeyboardState, line: () => string): void {
    if (this.dropped || this.left) return;
    // A joiner is told after its screen, which would otherwise reset the line away.
    if (this.held) return void (this.heldTell = () => this.tell(state, line));
    if (this.following) return this.link.tell!(state);
    const key = `${state.you} ${state.holder ?? ''}`;
    if (this.told !== undefined && this.told !== key) this.notice(line());
    this.told = key;
  }

  /** Whether what is sent is held (the joiner's screen is being made), not yet written. */
  get holding(): boolean {
    return this.held !== undefined;
  }

  /** Keeps what is sent from now on until `release`: a joiner's first bytes must come first. */
  hold(): void {
    this.held ??= [];
  }

  /** Sends `first`, then what was held meanwhile, and goes live. */
  release(first: Buffer): void {
    const held = this.held ?? [];
    this.held = undefined;
    this.heldBytes = 0;
    if (first.length > this.limit) this.allowReplay(first.length);
    if (first.length) this.send(first);
    for (const h of held) {
      if (h.counted) this.send(h.chunk);
      else this.write(h.chunk);
    }
    const tell = this.heldTell;
    this.heldTell = undefined;
    tell?.();
  }

  /** Lets the queue hold `bytes` more until it has drained once. */
  private allowReplay(bytes: number): void {
    const s = this.link.stream;
    this.slack = bytes;
    s.once('drain', () => {
      this.slack = 0;
    });
  }

  /** Queues device output for the peer; drops the peer if its queue passes the limit. */
  send(chunk: Buffer): void {
    if (this.dropped || this.left) return;
    if (this.held) {
      this.held.push({ chunk, counted: true });
      this.heldBytes += chunk.length;
      if (this.heldBytes > this.limit) this.drop();
      return;
    }
    const s = this.link.stream;
    if (s.destroyed || s.writableEnded) return;
    s.write(chunk);
    this.out += chunk.length;
    if (s.writableLength > this.limit + this.slack) this.drop();
  }

  /**
   * A line from ptybridge itself (device lost, read-only): not counted in `out`, not
   * replayed, but queued like output: a peer that asks for lines without reading them
   * (`~w` on a read-only door, again and again) is dropped at the same limit.
   */
  notice(text: string): void {
    if (this.dropped || this.left) return;
    const line = Buffer.from(`\r\n[ptybridge: ${text}]\r\n`);
    if (this.held) {
      this.held.push({ chunk: line, counted: false });
      this.heldBytes += line.length;
      if (this.heldBytes > this.limit) this.drop();
    } else this.write(line);
  }

  private write(chunk: Buffer): void {
    const s = this.link.stream;
    if (s.destroyed || s.writableEnded) return;
    s.write(chunk);
    if (s.writableLength > this.limit + this.slack) this.drop();
  }

  private drop(): void {
    const queued = this.link.stream.writableLength + this.heldBytes;
    this.held = undefined;
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

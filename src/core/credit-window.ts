// Credit flow control between the browser page and ws-listen: the page acknowledges output once xterm.js has parsed it, the server keeps at most a window of it unacknowledged.
// Pause/resume (ttyd's flowControl) cannot bound what is already on its way when the page says
// pause: the kernel's socket buffers and Chromium's queue of messages hold megabytes, and a key's
// echo waits behind all of it. With credits nothing beyond the window is ever on its way, so the
// echo waits at most window / parse rate. Pure accounting, used by both ends
// (src/protocols/websockify.ts, src/web/client.ts).

/** The smallest and largest window a page may ask for: below, acks would outnumber frames; above, it bounds nothing. */
export const MIN_WINDOW = 16 * 1024;
export const MAX_WINDOW = 64 * 1024 * 1024;

/** The server's side: bytes sent and not yet acknowledged, against the page's window. */
export class CreditWindow {
  private unacked: number;

  /** `alreadySent`: what went to the page before it announced its window (it acknowledges those too). */
  constructor(
    readonly window: number,
    alreadySent = 0,
  ) {
    this.unacked = alreadySent;
  }

  /** Bytes that may be sent now. */
  get room(): number {
    return Math.max(0, this.window - this.unacked);
  }

  /** Bytes sent and not acknowledged. */
  get inFlight(): number {
    return this.unacked;
  }

  sent(n: number): void {
    this.unacked += n;
  }

  /**
   * The page parsed `n` more bytes. More than was ever sent (a page that counted bytes the
   * server did not) is taken as all of it: the window can never grow past its size.
   */
  acked(n: number): void {
    this.unacked = Math.max(0, this.unacked - n);
  }
}

/**
 * The page's side: bytes parsed and not yet acknowledged. It acknowledges in batches (one
 * message per `every` bytes), and whatever is left once everything handed to xterm.js is parsed:
 * the server then waits on nothing the page still holds back, so a full window cannot stall.
 */
export class AckTally {
  private parsed = 0;
  private pending = 0;

  /** `every`: the batch; it may change (a page that announces another window acks in batches of its size). */
  constructor(public every: number) {}

  /** Bytes handed to xterm.js. */
  handed(n: number): void {
    this.pending += n;
  }

  /** xterm.js parsed `n` of them (its write callback); returns the bytes to acknowledge now, 0 for none. */
  done(n: number): number {
    this.pending -= n;
    this.parsed += n;
    if (this.parsed < this.every && this.pending > 0) return 0;
    const ack = this.parsed;
    this.parsed = 0;
    return ack;
  }

  /** Handed to xterm.js and not parsed yet. */
  get unparsed(): number {
    return this.pending;
  }
}

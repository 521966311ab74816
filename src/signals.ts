// Signals caught from main's first line: one that arrives while the process still loads is held until its handler is in, never left to Node's default (death).
const WATCHED = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
export type WatchedSignal = (typeof WATCHED)[number];

/**
 * Holds SIGINT, SIGTERM and SIGHUP from the start of the process: with the shipped systemd
 * unit, a reload (`kill -HUP`) right after start used to kill a `--config` process while it
 * was still loading, and systemd takes a death by SIGHUP as a clean exit.
 */
export class SignalGate {
  private readonly pending: WatchedSignal[] = [];
  private readonly handlers = new Map<WatchedSignal, (sig: WatchedSignal) => void>();
  private readonly catcher = (sig: NodeJS.Signals) => {
    const s = sig as WatchedSignal;
    const handler = this.handlers.get(s);
    if (handler) handler(s);
    else this.pending.push(s);
  };

  constructor() {
    for (const s of WATCHED) process.on(s, this.catcher);
  }

  /** Handles `sig` from now on; those that came before are handled at once, in order. */
  on(sig: WatchedSignal, handler: (sig: WatchedSignal) => void): void {
    this.handlers.set(sig, handler);
    for (let i = 0; i < this.pending.length; ) {
      if (this.pending[i] === sig) {
        this.pending.splice(i, 1);
        handler(sig);
      } else i++;
    }
  }

  /**
   * Gives `sig` back to Node's default action (a command line's SIGHUP ends it, as a
   * terminal's hangup ends socat); one that came while it was held takes effect now.
   */
  release(sig: WatchedSignal): void {
    this.handlers.delete(sig);
    process.off(sig, this.catcher);
    if (this.pending.includes(sig)) process.kill(process.pid, sig);
  }
}

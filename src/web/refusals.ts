// Refused requests are logged at the default level, but at most so many a minute: a scanner or a guessing loop cannot flood the log.

/** How many refusals a server logs per window before it only counts them. */
const PER_WINDOW = 20;
const WINDOW_MS = 60_000;

/** Decides, refusal by refusal, whether one is logged, and how many were left out before it. */
export class RefusalLimit {
  private windowStart = 0;
  private logged = 0;
  private hidden = 0;

  /** undefined: do not log this one; else the number of refusals not logged since the last that was. */
  next(now = Date.now()): number | undefined {
    if (now - this.windowStart >= WINDOW_MS) {
      this.windowStart = now;
      this.logged = 0;
    }
    if (this.logged >= PER_WINDOW) {
      this.hidden++;
      return undefined;
    }
    this.logged++;
    const hidden = this.hidden;
    this.hidden = 0;
    return hidden;
  }
}

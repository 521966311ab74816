// The hub's replay buffer: the last N bytes of device output, for a peer that joins late.

/** A fixed-size byte ring; pushing never allocates once the ring exists. */
export class Replay {
  private buf: Buffer | undefined;
  private start = 0;
  private len = 0;

  constructor(readonly capacity: number) {}

  get length(): number {
    return this.len;
  }

  push(chunk: Buffer): void {
    const cap = this.capacity;
    if (cap === 0 || chunk.length === 0) return;
    this.buf ??= Buffer.allocUnsafe(cap);
    if (chunk.length >= cap) {
      chunk.copy(this.buf, 0, chunk.length - cap);
      this.start = 0;
      this.len = cap;
      return;
    }
    const end = (this.start + this.len) % cap;
    const first = Math.min(chunk.length, cap - end);
    chunk.copy(this.buf, end, 0, first);
    if (first < chunk.length) chunk.copy(this.buf, 0, first);
    const total = this.len + chunk.length;
    if (total > cap) {
      this.start = (this.start + total - cap) % cap;
      this.len = cap;
    } else {
      this.len = total;
    }
  }

  /** A copy of what the ring holds, oldest byte first. */
  contents(): Buffer {
    if (!this.buf || this.len === 0) return Buffer.alloc(0);
    const cap = this.capacity;
    const first = Math.min(this.len, cap - this.start);
    const out = Buffer.allocUnsafe(this.len);
    this.buf.copy(out, 0, this.start, this.start + first);
    if (first < this.len) this.buf.copy(out, first, 0, this.len - first);
    return out;
  }
}

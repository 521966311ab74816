// Text to stdout in batches, waiting for 'drain' so a 256 MiB recording streams in bounded memory; a reader that went away (EPIPE: `| head`) ends the writing quietly.

/** Thrown by `write`/`flush` once stdout's reader is gone: the command ends with status 0, as `cat | head` does. */
export class ReaderGone extends Error {}

export class StdoutWriter {
  private parts: string[] = [];
  private size = 0;
  private failure: Error | undefined;
  private wake: (() => void) | undefined;

  constructor(
    private readonly out: NodeJS.WriteStream = process.stdout,
    private readonly batch = 64 * 1024,
  ) {
    out.on('error', (err) => {
      this.failure = err;
      this.wake?.();
    });
  }

  /** Queues `s`; writes once a batch is full. */
  async write(s: string): Promise<void> {
    if (!s) return;
    this.parts.push(s);
    this.size += s.length;
    if (this.size >= this.batch) await this.flush();
  }

  /** Writes what is queued and waits until stdout takes more. */
  async flush(): Promise<void> {
    this.check();
    if (!this.size) return;
    const s = this.parts.length === 1 ? this.parts[0]! : this.parts.join('');
    this.parts = [];
    this.size = 0;
    if (!this.out.write(s)) {
      let done = () => {};
      await new Promise<void>((resolve) => {
        done = resolve;
        this.wake = resolve;
        this.out.once('drain', resolve);
      });
      this.wake = undefined;
      this.out.off('drain', done);
    }
    this.check();
  }

  private check(): void {
    const err = this.failure as NodeJS.ErrnoException | undefined;
    if (!err) return;
    if (err.code === 'EPIPE') throw new ReaderGone('stdout closed');
    throw err;
  }
}

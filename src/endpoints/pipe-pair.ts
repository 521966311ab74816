// A readable and a writable as one link: this process's stdin/stdout (stdio:), a command's stdout/stdin (exec:?pipes).
import { Duplex, type Readable, type Writable } from 'node:stream';

export interface PipePairOptions {
  /**
   * What a write error on the output means. `fail` (stdio: whoever reads our stdout went
   * away, EPIPE): the link fails. `discard` (a command's stdin): the command has exited or
   * closed its input, which is how such a command ends normally; what is written after that
   * is dropped, and the end of its output ends the link.
   */
  outputGone: 'fail' | 'discard';
}

/**
 * `input` and `output` as one Duplex with half-close: the end of `input` ends the readable
 * side; `end()` ends `output`, so that its reader sees EOF.
 */
export class PipePair extends Duplex {
  /** The output refused a write or closed: later writes are dropped (outputGone `discard`). */
  private outputClosed = false;
  private readonly onData = (chunk: Buffer) => {
    if (!this.push(chunk)) this.input.pause();
  };
  private readonly onEnd = () => this.push(null);
  private readonly onError = (err: Error) => this.destroy(err);
  private readonly onOutputError = (err: Error) => {
    if (this.opts.outputGone === 'fail') return this.destroy(err);
    this.outputClosed = true;
  };
  private readonly onOutputClose = () => (this.outputClosed = true);

  constructor(
    private readonly input: Readable,
    private readonly output: Writable,
    private readonly opts: PipePairOptions,
  ) {
    super({ allowHalfOpen: true });
    input.on('data', this.onData);
    input.pause(); // until someone reads
    input.once('end', this.onEnd);
    input.on('error', this.onError);
    output.on('error', this.onOutputError);
    if (opts.outputGone === 'discard') output.once('close', this.onOutputClose);
  }

  override _read(): void {
    this.input.resume();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, done: (err?: Error | null) => void): void {
    if (this.outputClosed) return done();
    this.output.write(chunk, (err) => done(this.opts.outputGone === 'fail' ? err : undefined));
  }

  override _final(done: (err?: Error | null) => void): void {
    if (this.outputClosed || this.output.writableFinished) return done();
    this.output.end(() => done());
  }

  override _destroy(err: Error | null, done: (err?: Error | null) => void): void {
    this.input.off('data', this.onData);
    this.input.off('end', this.onEnd);
    this.input.off('error', this.onError);
    this.output.off('error', this.onOutputError);
    this.output.off('close', this.onOutputClose);
    this.input.pause();
    done(err);
  }
}

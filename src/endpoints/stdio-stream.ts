// stdin and stdout as one Duplex, under both stdio: (plain) and the interactive client (stdio-tty.ts).
import { Duplex, type Readable, type Writable } from 'node:stream';

/**
 * stdin and stdout as one Duplex: the end of stdin ends its readable side (half-close);
 * ending it ends stdout, so a reader of our output sees EOF.
 * This is the seam for the interactive client: it puts a terminal into raw mode and
 * watches for escape keys around the same Duplex; this module never touches the tty mode.
 */
export function stdioStream(input: Readable = process.stdin, output: Writable = process.stdout): Duplex {
  return new StdioLink(input, output);
}

class StdioLink extends Duplex {
  private readonly onData = (chunk: Buffer) => {
    if (!this.push(chunk)) this.input.pause();
  };
  private readonly onEnd = () => this.push(null);
  private readonly onError = (err: Error) => this.destroy(err);

  constructor(
    private readonly input: Readable,
    private readonly output: Writable,
  ) {
    super({ allowHalfOpen: true });
    input.on('data', this.onData);
    input.pause(); // until someone reads
    input.once('end', this.onEnd);
    input.on('error', this.onError);
    // EPIPE when whatever reads our stdout has gone away.
    output.on('error', this.onError);
  }

  override _read(): void {
    this.input.resume();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, done: (err?: Error | null) => void): void {
    this.output.write(chunk, done);
  }

  override _final(done: (err?: Error | null) => void): void {
    this.output.end(done);
  }

  override _destroy(err: Error | null, done: (err?: Error | null) => void): void {
    this.input.off('data', this.onData);
    this.input.off('end', this.onEnd);
    this.input.off('error', this.onError);
    this.output.off('error', this.onError);
    this.input.pause();
    done(err);
  }
}

// stdin and stdout as one Duplex, under both stdio: (plain) and the interactive client (stdio-tty.ts).
import type { Duplex, Readable, Writable } from 'node:stream';
import { PipePair } from './pipe-pair.js';

/**
 * stdin and stdout as one Duplex: the end of stdin ends its readable side (half-close);
 * ending it ends stdout, so a reader of our output sees EOF; EPIPE on stdout fails the link.
 * This is the seam for the interactive client: it puts a terminal into raw mode and
 * watches for escape keys around the same Duplex; this module never touches the tty mode.
 */
export function stdioStream(input: Readable = process.stdin, output: Writable = process.stdout): Duplex {
  return new PipePair(input, output, { outputGone: 'fail' });
}

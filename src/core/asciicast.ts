// asciicast v2 read line by line (docs/HISTORY-FORMAT.md): a history file may be 256 MiB and still being written, so it is never read whole and a torn last line is left out.
import { open } from 'node:fs/promises';

import { type CastEvent, type CastHeader, parseCastEvent, parseCastHeader } from './asciicast-parse.js';

export { type CastEvent, type CastHeader, OutputJoiner, parseCastEvent, parseCastHeader } from './asciicast-parse.js';

/** A file that is not asciicast v2 where it must be: the message names the file and line. */
export class CastFormatError extends Error {
  constructor(
    readonly file: string,
    readonly line: number,
    what: string,
  ) {
    super(`${file}: line ${line}: ${what}`);
    this.name = 'CastFormatError';
  }
}

/** One line longer than this is refused rather than held: a recorder writes one read chunk per event. */
export const MAX_LINE_BYTES = 32 * 1024 * 1024;
const CHUNK = 256 * 1024;

/** A line of the file and whether it ended with a newline (the last one of a file being written may not). */
interface Line {
  text: string;
  n: number;
  complete: boolean;
}

/** The file's lines, read in chunks: memory is one chunk plus the longest line. */
async function* lines(path: string, maxLine = MAX_LINE_BYTES): AsyncGenerator<Line> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.allocUnsafe(CHUNK);
    let carry: Buffer[] = [];
    let carryLen = 0;
    let n = 0;
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, CHUNK, null);
      if (bytesRead === 0) break;
      const chunk = buf.subarray(0, bytesRead);
      let start = 0;
      for (let nl = chunk.indexOf(10, start); nl !== -1; nl = chunk.indexOf(10, start)) {
        n++;
        const text = carryLen ? Buffer.concat([...carry, chunk.subarray(start, nl)]).toString('utf8') : chunk.toString('utf8', start, nl);
        carry = [];
        carryLen = 0;
        start = nl + 1;
        yield { text, n, complete: true };
      }
      if (start < bytesRead) {
        carryLen += bytesRead - start;
        if (carryLen > maxLine) throw new CastFormatError(path, n + 1, `a line longer than ${maxLine} bytes`);
        // The buffer is read into again: keep a copy of the unfinished line.
        carry.push(Buffer.from(chunk.subarray(start)));
      }
    }
    if (carryLen) yield { text: Buffer.concat(carry).toString('utf8'), n: n + 1, complete: false };
  } finally {
    await fh.close();
  }
}

/** An open history file: its header, then its events in file order. */
export interface CastFile {
  header: CastHeader;
  events: AsyncGenerator<CastEvent>;
  /** Closes the file, whether or not its events were read (returning an unstarted generator would not). */
  close(): Promise<void>;
}

/**
 * Opens FILE and reads its header. Events come from `events`; a last line without its
 * newline is used when it is a whole event and left out when it is torn (the recorder was
 * killed mid-write, or is writing it now). Blank lines are skipped. Fs errors (ENOENT…)
 * reject as they are; a file that is not asciicast v2 rejects with a CastFormatError.
 */
export async function openCast(path: string): Promise<CastFile> {
  const it = lines(path);
  let first: Line | undefined;
  for (;;) {
    const r = await it.next();
    if (r.done) break;
    if (r.value.text.trim() !== '') {
      first = r.value;
      break;
    }
  }
  if (!first) throw new CastFormatError(path, 1, 'empty file, expected an asciicast v2 header');
  let header: CastHeader;
  try {
    header = parseCastHeader(first.text);
  } catch (err) {
    await it.return(undefined);
    throw new CastFormatError(path, first.n, first.complete ? (err as Error).message : 'the header line is incomplete (the file is being written or was cut)');
  }
  return { header, events: eventsOf(path, it), close: async () => void (await it.return(undefined)) };
}

async function* eventsOf(path: string, it: AsyncGenerator<Line>): AsyncGenerator<CastEvent> {
  try {
    for await (const l of it) {
      if (l.text.trim() === '') continue;
      let ev: CastEvent;
      try {
        ev = parseCastEvent(l.text, l.n);
      } catch (err) {
        if (!l.complete) return; // torn last line
        throw new CastFormatError(path, l.n, (err as Error).message);
      }
      yield ev;
    }
  } finally {
    await it.return(undefined);
  }
}

/** Only the header of FILE (the first line), for listing a directory without reading events. */
export async function readCastHeader(path: string): Promise<CastHeader> {
  const f = await openCast(path);
  await f.close();
  return f.header;
}

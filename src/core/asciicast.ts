// asciicast v2 read line by line (docs/HISTORY-FORMAT.md): a history file may be 256 MiB and still being written, so it is never read whole and a torn last line is left out.
import { open } from 'node:fs/promises';

/** The first line of an asciicast v2 file, with ptybridge's own field when a recorder of ours wrote it. */
export interface CastHeader {
  version: 2;
  width: number;
  height: number;
  /** UNIX seconds the event times count from. */
  timestamp?: number;
  /** The recording's own idle limit (asciinema play uses it when none is given). */
  idleTimeLimit?: number;
  title?: string;
  ptybridge?: { console?: string; boot?: boolean; device?: string };
}

/** One event line: `[seconds since the header's timestamp, code, data]`. */
export interface CastEvent {
  time: number;
  /** `o` output, `i` input, `r` resize, `m` marker; others are passed through. */
  code: string;
  data: string;
  /** 1-based line number in the file, for messages. */
  line: number;
}

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

/** Parses a header line; throws an Error saying what is wrong (the caller adds file and line). */
export function parseCastHeader(text: string): CastHeader {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new Error(`not an asciicast v2 header (not JSON: ${excerpt(text)})`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error(`not an asciicast v2 header (expected a JSON object, got ${excerpt(text)})`);
  const h = v as Record<string, unknown>;
  if (h.version !== 2) {
    const v1 = h.version === 1 ? ' (asciicast v1, one JSON document, is not read; convert it with asciinema)' : '';
    throw new Error(`expected an asciicast header with "version": 2, got "version": ${JSON.stringify(h.version)}${v1}`);
  }
  for (const k of ['width', 'height'] as const) {
    if (!Number.isInteger(h[k]) || (h[k] as number) < 1) throw new Error(`asciicast header: "${k}" must be a positive integer, got ${JSON.stringify(h[k])}`);
  }
  const header: CastHeader = { version: 2, width: h.width as number, height: h.height as number };
  if (typeof h.timestamp === 'number' && Number.isFinite(h.timestamp)) header.timestamp = h.timestamp;
  if (typeof h.idle_time_limit === 'number' && h.idle_time_limit > 0) header.idleTimeLimit = h.idle_time_limit;
  if (typeof h.title === 'string') header.title = h.title;
  const p = h.ptybridge;
  if (typeof p === 'object' && p !== null && !Array.isArray(p)) {
    const q = p as Record<string, unknown>;
    header.ptybridge = {
      ...(typeof q.console === 'string' ? { console: q.console } : {}),
      ...(typeof q.boot === 'boolean' ? { boot: q.boot } : {}),
      ...(typeof q.device === 'string' ? { device: q.device } : {}),
    };
  }
  return header;
}

/** Parses an event line; throws an Error saying what is wrong. */
export function parseCastEvent(text: string, line = 0): CastEvent {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new Error(`not an asciicast v2 event (not JSON: ${excerpt(text)})`);
  }
  if (!Array.isArray(v) || v.length < 3) throw new Error(`expected an event [time, code, data], got ${excerpt(text)}`);
  const [time, code, data] = v as unknown[];
  if (typeof time !== 'number' || !Number.isFinite(time) || time < 0)
    throw new Error(`event time must be a number of seconds >= 0, got ${JSON.stringify(time)}`);
  if (typeof code !== 'string' || typeof data !== 'string') throw new Error(`event code and data must be strings, got ${excerpt(text)}`);
  return { time, code, data, line };
}

function excerpt(text: string): string {
  return JSON.stringify(text.length > 60 ? `${text.slice(0, 60)}…` : text);
}

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

/**
 * Joins the data of consecutive output events into well-formed text: a surrogate pair
 * split across two events (a JSON writer that escaped each half) is put back together
 * instead of becoming two U+FFFD. Everything else passes through unchanged.
 */
export class OutputJoiner {
  private held = '';

  push(data: string): string {
    let s = this.held ? this.held + data : data;
    this.held = '';
    const last = s.charCodeAt(s.length - 1);
    if (last >= 0xd800 && last <= 0xdbff) {
      this.held = s.slice(-1);
      s = s.slice(0, -1);
    }
    return s;
  }

  /** What is still held at the end (a lone high surrogate: written as U+FFFD). */
  end(): string {
    const s = this.held;
    this.held = '';
    return s;
  }
}

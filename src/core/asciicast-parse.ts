// asciicast v2 lines parsed without any file system: the readers on disk (src/core/asciicast.ts) and the page's history view (src/web/history-view.ts) share them.

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

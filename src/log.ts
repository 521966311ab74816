// Logging to stderr with levels set by -v/-q, as text lines or (--log-format json) one JSON object a line; data never goes through here.
import type { Level, LogFields, Logger } from './core/logger.js';
import { UsageError } from './errors.js';

export type { Level, LogFields, Logger } from './core/logger.js';

const RANK: Record<Level, number> = { error: 0, warn: 1, info: 2, debug: 3 };

export type LogFormat = 'text' | 'json';
export const LOG_FORMATS: readonly LogFormat[] = ['text', 'json'];
/** One format per process (--log-format), read at each line: every logger follows it. */
let format: LogFormat = 'text';

export function setLogFormat(f: LogFormat): void {
  format = f;
}

export function parseLogFormat(text: string): LogFormat {
  if (!(LOG_FORMATS as readonly string[]).includes(text)) throw new UsageError(`--log-format: expected text or json, got "${text}"`);
  return text as LogFormat;
}

/**
 * One line in the process's format: `ptybridge: [route] message`, or
 * `{"time":…,"level":…,"route":…,"event":…,"message":…,…fields}`. Fields never
 * overwrite the five keys every JSON line has.
 */
export function formatLine(level: Level, msg: string, route: string | undefined, fields: LogFields = {}): string {
  if (format === 'text') return `ptybridge: ${route === undefined ? '' : `[${route}] `}${msg}\n`;
  const { event, ...rest } = fields;
  const line: Record<string, unknown> = {
    time: new Date().toISOString(),
    level,
    ...(route === undefined ? {} : { route }),
    event: event ?? 'log',
    message: msg,
  };
  for (const [k, v] of Object.entries(rest)) if (v !== undefined && !(k in line)) line[k] = v;
  return `${JSON.stringify(line)}\n`;
}

/**
 * A logger that writes lines to stderr at or above `level`; `route` names the config
 * route the lines come from ("ptybridge: [vm1] listening on …").
 */
export function createLogger(level: Level = 'warn', write: (line: string) => void = defaultWrite, route?: string): Logger {
  const at = (l: Level) => (msg: string, fields?: LogFields) => {
    if (RANK[l] <= RANK[level]) write(formatLine(l, msg, route, fields));
  };
  return {
    error: at('error'),
    warn: at('warn'),
    info: at('info'),
    debug: at('debug'),
    notice: (msg, fields) => {
      if (RANK.warn <= RANK[level]) write(formatLine('info', msg, route, fields));
    },
    enabled: (l) => RANK[l] <= RANK[level],
  };
}

/**
 * A line that is written whatever -q says (the only copy of a generated token), in the
 * process's format. An `announcement` (a URL to open) is one only a started route may make:
 * while lines are held it is dropped if the start fails.
 */
export function logAlways(msg: string, fields?: LogFields, opts: { announcement?: boolean } = {}): void {
  defaultWrite(formatLine('warn', msg, undefined, fields), opts.announcement);
}

/** Lines written while a start with several doors is under way (see holdLines). */
let held: { line: string; announcement: boolean }[] | undefined;

/**
 * Holds stderr's lines until releaseLines: a start that opens several doors must not
 * print "open http://…" for the first and then fail on the second (EADDRINUSE).
 */
export function holdLines(): void {
  held ??= [];
}

/** Writes the held lines in order; when the start failed (`started` false), without its announcements. */
export function releaseLines(started: boolean): void {
  const lines = held ?? [];
  held = undefined;
  const text = lines
    .filter((l) => started || !l.announcement)
    .map((l) => l.line)
    .join('');
  if (text) writeStderr(text);
}

function defaultWrite(line: string, announcement = false): void {
  if (held) held.push({ line, announcement });
  else writeStderr(line);
}

/** Log text waiting for a stderr pipe that is not read, at most; past it lines are dropped and counted. */
const STDERR_QUEUE = 1024 * 1024;
let stderrFailed: boolean | undefined;
let droppedLines = 0;
let droppedNow = 0;

/** Log lines stderr could not take (a pipe nobody reads, EPIPE, ENOSPC), since start: for --metrics. */
export function stderrDroppedLines(): number {
  return droppedLines;
}

/**
 * Writes log text to stderr with bounded memory. Node writes a stderr pipe or socket
 * asynchronously and queues without limit: a journal or a `| logger` that stops reading
 * grew the process by every line (the hex trace of a flood: gigabytes). Past 1 MiB waiting,
 * lines are dropped and counted (--metrics), and said when stderr takes lines again. Write
 * errors (EPIPE, ENOSPC on a file) are counted, never thrown.
 */
export function writeStderr(text: string): void {
  if (stderrFailed === undefined) {
    stderrFailed = false;
    process.stderr.on('error', () => {
      stderrFailed = true;
    });
  }
  if (stderrFailed || process.stderr.writableLength > STDERR_QUEUE) {
    droppedLines++;
    droppedNow++;
    return;
  }
  if (droppedNow) {
    process.stderr.write(
      formatLine('warn', `${droppedNow} log lines dropped here: stderr was not read`, undefined, { event: 'log-lines-dropped', lines: droppedNow }),
    );
    droppedNow = 0;
  }
  process.stderr.write(text);
}

/** Level from the count of -v and -q flags: default warn (notices such as "listening on"). */
export function levelFrom(verbose: number, quiet: boolean): Level {
  if (quiet) return 'error';
  if (verbose >= 2) return 'debug';
  if (verbose === 1) return 'info';
  return 'warn';
}

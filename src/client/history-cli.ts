// `ptybridge history DIR [--since …] [--text | --marks]`: what a console's history directory recorded, in order across its boot and size-step files, as raw output, plain text for grep, or the list of marks.
import { stat, readdir } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { OutputJoiner, openCast, readCastHeader } from '../core/asciicast.js';
import {
  type HistoryEntry,
  type Since,
  historyEntry,
  listHistoryFiles,
  parseHistoryName,
  parseSince,
  readHistoryHeaders,
  selectSince,
} from '../core/history-files.js';
import { PlainText } from '../core/terminal-text.js';
import { PtybError, UsageError } from '../errors.js';
import type { SignalGate } from '../signals.js';
import { parseCommandArgs, recordingError } from './recording-cli.js';
import { ReaderGone, StdoutWriter } from './stdout-writer.js';

export interface HistoryOptions {
  path: string;
  since?: Since;
  mode: 'raw' | 'text' | 'marks';
}

const OPTIONS = {
  since: { type: 'string' },
  text: { type: 'boolean' },
  marks: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

const USAGE = 'usage: ptybridge history DIR|FILE.cast [--since boot|last-boot|N-boots-ago|ISO-TIME|-DURATION] [--text | --marks]';

export function parseHistoryArgs(argv: string[], nowMs = Date.now()): HistoryOptions | 'help' {
  const { values, positionals } = parseCommandArgs('history', argv, OPTIONS);
  if (values.help) return 'help';
  if (positionals.length !== 1) {
    throw new UsageError(
      `history: expected one console directory (or FILE.cast), got ${positionals.length ? positionals.map((p) => JSON.stringify(p)).join(' ') : 'none'}; ${USAGE}`,
    );
  }
  if (values.text && values.marks) throw new UsageError('history: --text and --marks exclude each other (--marks lists the marks instead of the output)');
  let since: Since | undefined;
  if (values.since !== undefined) {
    since = parseSince(values.since, nowMs);
    if (!since) {
      throw new UsageError(
        `history: --since expects boot, last-boot, N-boots-ago, an ISO time (2026-12-05T23:00:00Z) or -DURATION (-10m, -2h, -1d), got ${JSON.stringify(values.since)}`,
      );
    }
  }
  return { path: positionals[0]!, ...(since ? { since } : {}), mode: values.marks ? 'marks' : values.text ? 'text' : 'raw' };
}

export async function historyMain(argv: string[], signals?: SignalGate): Promise<number> {
  const o = parseHistoryArgs(argv);
  if (o === 'help') {
    const { subcommandHelp } = await import('../help.js');
    process.stdout.write(subcommandHelp('history'));
    return 0;
  }
  let stopped = false;
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) signals?.on(sig, () => (stopped = true));
  const entries = await entriesOf(o.path);
  const selection = selectSince(entries, o.since);
  if (selection.note) warn(selection.note);
  const out = new StdoutWriter();
  const joiner = new OutputJoiner();
  const plain = new PlainText();
  try {
    for (const [i, entry] of selection.files.entries()) {
      let file: Awaited<ReturnType<typeof openCast>>;
      try {
        file = await openCast(entry.path);
      } catch (err) {
        // Removed by history-max since it was listed: its time is gone, the rest still counts.
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
          warn(`${entry.path}: removed while reading (history-max); skipped`);
          continue;
        }
        throw recordingError(entry.path, err);
      }
      // A new boot is a new terminal: its text starts on a line of its own, and an escape
      // sequence the crash cut off does not swallow its first bytes.
      if (i > 0 && entry.boot && o.mode !== 'marks') {
        const rest = joiner.end();
        await out.write(o.mode === 'text' ? plain.push(rest) + plain.end() : rest);
      }
      try {
        for await (const ev of file.events) {
          if (stopped) return 0;
          const atMs = entry.baseMs + Math.round(ev.time * 1e6) / 1000; // to the µs the file has: 1.005 s is not 1004.999… ms
          if (selection.fromMs !== undefined && atMs < selection.fromMs) continue;
          if (o.mode === 'marks') {
            if (ev.code === 'm') await out.write(`${new Date(atMs).toISOString()}  ${entry.name}  ${secondsOf(ev.time)}  ${printable(ev.data)}\n`);
          } else if (ev.code === 'o') {
            const data = joiner.push(ev.data);
            await out.write(o.mode === 'text' ? plain.push(data) : data);
          }
        }
      } catch (err) {
        if (err instanceof ReaderGone) throw err;
        throw recordingError(entry.path, err);
      } finally {
        await file.close();
      }
    }
    const rest = joiner.end();
    await out.write(o.mode === 'text' ? plain.push(rest) + plain.end() : rest);
    await out.flush();
    return 0;
  } catch (err) {
    if (err instanceof ReaderGone) return 0;
    await out.flush().catch(() => {});
    throw err;
  }
}

/** The files of a console's directory, or the one file given, with their headers. */
async function entriesOf(path: string): Promise<HistoryEntry[]> {
  let isDir: boolean;
  try {
    isDir = (await stat(path)).isDirectory();
  } catch (err) {
    throw recordingError(path, err);
  }
  if (!isDir) {
    const name = basename(path);
    try {
      return [historyEntry({ path, name, startMs: parseHistoryName(name)?.startMs ?? 0, seq: 0 }, await readCastHeader(path))];
    } catch (err) {
      throw recordingError(path, err);
    }
  }
  let entries: HistoryEntry[];
  try {
    entries = await readHistoryHeaders(await listHistoryFiles(path));
  } catch (err) {
    throw recordingError(path, err);
  }
  if (!entries.length) throw new PtybError('PTYB_ERR_IO', `${path}: no history files (YYYY-MM-DDTHH-MM-SS.mmmZ.cast)${await consolesHint(path)}`, 1);
  for (const [i, e] of entries.entries()) {
    // The newest file's header may be on its way to the disk: not worth a word.
    if (e.problem && !(i === entries.length - 1 && /incomplete|empty file/.test(e.problem))) warn(`${e.problem}; skipped`);
  }
  return entries;
}

/** A `--history ROOT` directory holds one directory per console: name them. */
async function consolesHint(dir: string): Promise<string> {
  const names: string[] = [];
  for (const d of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    if (!d.isDirectory()) continue;
    const files = await readdir(join(dir, d.name)).catch(() => [] as string[]);
    if (files.some((f) => parseHistoryName(f))) names.push(d.name);
  }
  return names.length ? `; it holds consoles' directories: ${names.sort().join(', ')} (give one, such as ${join(dir, names[0]!)})` : '';
}

/** A label on one line: controls shown as escapes. */
function printable(label: string): string {
  return label.replace(
    /[\x00-\x1f\x7f]/g,
    (c) => ({ '\n': '\\n', '\r': '\\r', '\t': '\\t', '\x1b': '\\e' })[c] ?? `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`,
  );
}

function warn(text: string): void {
  process.stderr.write(`ptybridge: history: ${text}\n`);
}

/** SECONDS for `play --at`, down to the millisecond so that the mark's own event is played (4.35 is 4349.999… ms in binary: round to µs first). */
function secondsOf(time: number): string {
  return (Math.floor(Math.round(time * 1e6) / 1000) / 1000).toFixed(3);
}

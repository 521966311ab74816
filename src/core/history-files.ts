// A console's history directory (docs/HISTORY-FORMAT.md): its files in time order, which ones start a boot, and where a `--since` begins.
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { type CastHeader, readCastHeader } from './asciicast.js';

/** `YYYY-MM-DDTHH-MM-SS.mmmZ[-N].cast`: the UTC start time, and N when two files would collide. */
const NAME = /^(\d{4})-(\d\d)-(\d\d)T(\d\d)-(\d\d)-(\d\d)\.(\d{3})Z(?:-(\d+))?\.cast$/;

export interface HistoryFile {
  path: string;
  name: string;
  /** The start time in the name, ms since the epoch. */
  startMs: number;
  /** 0, or the N of a `-N` suffix. */
  seq: number;
}

/** The start time and collision number in a history file's name; undefined for any other name. */
export function parseHistoryName(name: string): { startMs: number; seq: number } | undefined {
  const m = NAME.exec(name);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s, ms, seq] = m;
  const startMs = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s), Number(ms));
  return Number.isNaN(startMs) ? undefined : { startMs, seq: seq === undefined ? 0 : Number(seq) };
}

/**
 * DIR's history files, oldest first. Not by name as text: `…Z-1.cast` sorts before `…Z.cast`
 * and `-10` before `-2` there, but the plain name was made first and `-2` before `-10`.
 */
export async function listHistoryFiles(dir: string): Promise<HistoryFile[]> {
  const out: HistoryFile[] = [];
  for (const d of await readdir(dir, { withFileTypes: true })) {
    if (d.isDirectory()) continue;
    const p = parseHistoryName(d.name);
    if (p) out.push({ path: join(dir, d.name), name: d.name, ...p });
  }
  return out.sort((a, b) => a.startMs - b.startMs || a.seq - b.seq);
}

export interface HistoryEntry extends HistoryFile {
  header?: CastHeader;
  /** Why the header could not be read (the file is skipped). */
  problem?: string;
  /** Starts a boot: the header says `"boot": true`, or it is not a ptybridge recording (each its own). */
  boot: boolean;
  /** What the events' times count from, ms since the epoch: the header's timestamp, else the name's. */
  baseMs: number;
}

/** Reads each file's header. A file removed meanwhile (history-max pruning) is left out. */
export async function readHistoryHeaders(files: HistoryFile[]): Promise<HistoryEntry[]> {
  const out: HistoryEntry[] = [];
  for (const f of files) {
    try {
      out.push(historyEntry(f, await readCastHeader(f.path)));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
      out.push({ ...f, problem: (err as Error).message, boot: false, baseMs: f.startMs });
    }
  }
  return out;
}

/** A file with its header: whether it starts a boot and what its event times count from. */
export function historyEntry(f: HistoryFile, header: CastHeader): HistoryEntry {
  return { ...f, header, boot: header.ptybridge?.boot ?? true, baseMs: header.timestamp !== undefined ? header.timestamp * 1000 : f.startMs };
}

/** Where `--since` starts: N boots before the last (0 = the last boot), or a time. */
export type Since = { kind: 'boots-ago'; n: number } | { kind: 'time'; ms: number };

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/**
 * `boot`, `last-boot`, `N-boots-ago`, an ISO time (`2026-12-05T23:00:00Z`; without Z or
 * an offset it is local time; a file name's `23-00-00` form too), or `-DURATION` back from
 * now (`-10m`, `-1h30m`, `-2d`). Undefined when the text is none of these.
 */
export function parseSince(text: string, nowMs: number): Since | undefined {
  if (text === 'boot' || text === 'last-boot') return { kind: 'boots-ago', n: 0 };
  const ago = /^(\d+)-boots?-ago$/.exec(text);
  if (ago) return { kind: 'boots-ago', n: Number(ago[1]) };
  if (text.startsWith('-')) {
    const body = text.slice(1);
    if (!/^(?:\d+(?:\.\d+)?(?:ms|s|m|h|d|w))+$/.test(body)) return undefined;
    let ms = 0;
    for (const m of body.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h|d|w)/g)) ms += Number(m[1]) * UNIT_MS[m[2]!]!;
    return { kind: 'time', ms: nowMs - ms };
  }
  const iso = /^(\d{4}-\d\d-\d\d)(?:[T ](\d\d)[:-](\d\d)(?:[:-](\d\d)(\.\d+)?)?)?(Z|[+-]\d\d:?\d\d)?$/i.exec(text);
  if (!iso) return undefined;
  const [, date, h = '00', mi = '00', s = '00', frac = '', zone = ''] = iso;
  const ms = Date.parse(`${date}T${h}:${mi}:${s}${frac}${zone.toUpperCase()}`);
  return Number.isNaN(ms) ? undefined : { kind: 'time', ms };
}

/** The files to read for a `--since`, the time events must reach (for a time), and a note when less history exists than was asked for. */
export interface Selection {
  files: HistoryEntry[];
  fromMs?: number;
  note?: string;
}

/** Picks the files (readable ones only) from `since` on; all of them when it is undefined. */
export function selectSince(all: HistoryEntry[], since: Since | undefined): Selection {
  const entries = all.filter((e) => e.header);
  if (!since || !entries.length) return { files: entries };
  if (since.kind === 'time') {
    // A file ends when the next one starts: those whose successor started before the time
    // hold nothing after it. A second of slack covers a header timestamp in whole seconds.
    let start = 0;
    for (let i = 1; i < entries.length; i++) if (entries[i]!.startMs + 1000 <= since.ms) start = i;
    return { files: entries.slice(start), fromMs: since.ms };
  }
  const boots = entries.flatMap((e, i) => (e.boot ? [i] : []));
  if (since.n < boots.length) return { files: entries.slice(boots[boots.length - 1 - since.n]) };
  const oldest = entries[0]!.name;
  const asked = since.n === 0 ? 'the last boot' : `${since.n}-boots-ago`;
  const why =
    boots.length === 0 ? 'no boot start is recorded (removed by history-max?)' : `only ${boots.length} boot${boots.length === 1 ? ' is' : 's are'} recorded`;
  return { files: entries, note: `${asked}: ${why}; showing everything from the oldest file, ${oldest}` };
}

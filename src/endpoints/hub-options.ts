// Options every shared device type adds to its schema, read by the hub (src/router/hub.ts), a door's ?readonly, and the per-peer session options of exec:.
import type { HubSettings, ReplaySetting } from '../core/hub-settings.js';
import { POLICIES, type Policy } from '../core/roles.js';
import { duration, flag, int, oneOf, parsed, parseSize, size } from '../options.js';

type ReplayChoice = { mode: 'screen' } | { mode: 'bytes'; size?: number } | { mode: 'since-boot' } | { mode: 'off' };

/** The byte tail `?replay=bytes` keeps when no size is given. */
export const DEFAULT_REPLAY_BYTES = 16 * 1024;
const MAX_REPLAY_BYTES = 64 * 1024 * 1024;
/** `?replay=since-boot`: most output since the boot kept for joiners (older bytes are in the history files). */
export const SINCE_BOOT_BYTES = 64 * 1024 * 1024;
/** `?history-max` when not given. */
export const DEFAULT_HISTORY_MAX = 256 * 1024 * 1024;
/** A ?mark pattern longer than this is refused: it runs on every line of output. */
const MAX_MARK_PATTERN = 512;

/** `screen`, `bytes`, `0`/`off`, or a size (`16k`: bytes mode with that tail, as before screens). */
function parseReplay(raw: string): ReplayChoice | undefined {
  const v = raw.trim().toLowerCase();
  if (v === 'screen') return { mode: 'screen' };
  if (v === 'bytes') return { mode: 'bytes' };
  if (v === 'since-boot') return { mode: 'since-boot' };
  if (v === 'off' || v === 'none') return { mode: 'off' };
  const n = parseSize(v);
  if (n === undefined || n > MAX_REPLAY_BYTES) return undefined;
  return n === 0 ? { mode: 'off' } : { mode: 'bytes', size: n };
}

/** A JavaScript regular expression for ?mark (no flags: written as the pattern alone). */
function parseMark(raw: string): RegExp | undefined {
  if (raw.length === 0 || raw.length > MAX_MARK_PATTERN) return undefined;
  try {
    return new RegExp(raw);
  } catch {
    return undefined;
  }
}

/** `COLSxROWS`, such as 80x24 or 132x43. */
function parseScreenSize(raw: string): { cols: number; rows: number } | undefined {
  const m = /^(\d{1,4})x(\d{1,4})$/i.exec(raw.trim());
  if (!m) return undefined;
  const cols = Number(m[1]);
  const rows = Number(m[2]);
  return cols >= 2 && rows >= 1 && cols <= 1000 && rows <= 500 ? { cols, rows } : undefined;
}

/** Spread into a device type's option schema so that `--help SCHEME` lists them. */
export const hubOptions = {
  policy: oneOf(
    POLICIES,
    'shared',
    'behind a listener: who may type; shared: every peer, exclusive: one peer holds the keyboard (the first; any other may take it), readonly: nobody (spy mode)',
  ),
  replay: parsed(
    'screen, bytes, since-boot, 0, or a size such as 16k (bytes mode with that much)',
    'behind a listener: what a new peer gets first; screen: the current screen (a terminal model of the output), bytes: the last 16k of output (or the size given), since-boot: every byte since the device was last opened (at most the last 64M), 0: nothing. Default: screen for pty: and exec:, bytes for serial:, file:, unix: and tcp:',
    parseReplay,
  ),
  scrollback: int(1000, 0, 100_000, 'with replay=screen: lines kept above the screen, sent to a new peer with it'),
  'peer-queue': size(1024 * 1024, 'behind a listener: most output queued for one peer; a peer that falls further behind is dropped', 1024 ** 3),
  'max-peers': int(
    1024,
    1,
    1_000_000,
    'behind a listener: most peers connected at once, across all its doors; more are closed at once and logged (once a second at most)',
  ),
  'log-input': flag(
    false,
    'behind a listener: also record what each peer types, by name, in the transcript (--log; else on stderr) and the history (?history, as "i" events), for audit',
  ),
  history: parsed(
    'a directory',
    'record the console in DIR (created 0700): asciicast v2 files, one per device boot and per 16M, that asciinema and ptybridge play read; written behind the data, never slowing it (docs/HISTORY.md)',
    (raw) => (raw.length > 0 ? raw : undefined),
  ),
  'history-max': size(
    DEFAULT_HISTORY_MAX,
    'with ?history (or --history): most bytes of recordings kept for this console; the oldest files are removed first',
    2 ** 50,
    64 * 1024,
  ),
  mark: parsed(
    'a regular expression, such as U-Boot 20|Linux version',
    'with ?history (or --history): a line of output that matches adds a mark to the history (shown on its time line)',
    parseMark,
  ),
};

/** Spread into every door's option schema: a read-only door (conserver's spy port). */
export const doorOptions = {
  readonly: flag(false, 'behind a shared device: peers of this listener see everything and type nothing (spy mode)'),
};

/** For a device whose size ptybridge does not set (pty:, serial:): the size its screen model starts at. */
export const screenOptions = {
  screen: parsed(
    'COLSxROWS, such as 80x24',
    'with replay=screen: the size of the screen model until a peer that may type resizes the device (default 80x24)',
    parseScreenSize,
  ),
};

/** exec:'s per-peer sessions: how long a web shell whose page went away waits for it (src/router/sessions.ts). */
export const sessionOptions = {
  linger: duration(
    5 * 60_000,
    'behind ws-listen, one session per browser tab: how long a shell whose page went away (reload, dropped network) waits for it to come back; then it gets SIGHUP (0: the shell ends with its page)',
    24 * 3_600_000,
  ),
};

/**
 * Serial lines often carry binary protocols (a bootloader upload, Modbus) that a
 * re-rendered screen would mangle, and a file is data: those keep a byte tail by default.
 */
const SCREEN_BY_DEFAULT = new Set(['pty', 'exec']);

/** Reads the hub settings from any device spec, with defaults where a type lacks them. */
export function hubSettingsOf(spec: { scheme: string; options: unknown }): HubSettings {
  const o = spec.options as Record<string, unknown>;
  const choice = (o.replay as ReplayChoice | undefined) ?? (SCREEN_BY_DEFAULT.has(spec.scheme) ? { mode: 'screen' } : { mode: 'bytes' });
  const replay: ReplaySetting =
    choice.mode === 'screen'
      ? { mode: 'screen', scrollback: (o.scrollback as number | undefined) ?? 1000 }
      : choice.mode === 'bytes'
        ? { mode: 'bytes', size: choice.size ?? DEFAULT_REPLAY_BYTES }
        : choice.mode === 'since-boot'
          ? { mode: 'since-boot', size: SINCE_BOOT_BYTES }
          : { mode: 'off' };
  const size =
    typeof o.cols === 'number' && typeof o.rows === 'number'
      ? { cols: o.cols, rows: o.rows }
      : ((o.screen as { cols: number; rows: number } | undefined) ?? { cols: 80, rows: 24 });
  return {
    policy: (o.policy as Policy | undefined) ?? 'shared',
    replay,
    size,
    'peer-queue': (o['peer-queue'] as number | undefined) ?? 1024 * 1024,
    'max-peers': (o['max-peers'] as number | undefined) ?? 1024,
    'log-input': (o['log-input'] as boolean | undefined) ?? false,
    history: {
      ...(typeof o.history === 'string' ? { dir: o.history } : {}),
      max: (o['history-max'] as number | undefined) ?? DEFAULT_HISTORY_MAX,
      ...(o.mark instanceof RegExp ? { mark: o.mark } : {}),
    },
  };
}

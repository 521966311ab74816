// What a hub is told by its device's address: who may type, what a joiner sees first, how far a peer may fall behind.
import type { Policy } from './roles.js';

/** What a joining peer is shown first (src/router/replay.ts). */
export type ReplaySetting = { mode: 'screen'; scrollback: number } | { mode: 'bytes'; size: number } | { mode: 'since-boot'; size: number } | { mode: 'off' };

/** ?history=DIR and its bounds (src/router/history.ts): the console's recordings on disk. */
export interface HistorySetting {
  /** The console's own directory (?history=), else undefined: the route's --history root decides. */
  dir?: string;
  /** Most bytes of .cast files kept in the directory; the oldest whole files go first. */
  max: number;
  /** Output lines that add a mark (?mark=REGEX). */
  mark?: RegExp;
}

/** The hub's settings as a device spec carries them (read by src/endpoints/hub-options.ts `hubSettingsOf`). */
export interface HubSettings {
  policy: Policy;
  replay: ReplaySetting;
  /** The screen model's size at start: exec's cols/rows, `?screen=`, or 80x24. */
  size: { cols: number; rows: number };
  'peer-queue': number;
  /** Peers this device admits across all its doors. */
  'max-peers': number;
  'log-input': boolean;
  history: HistorySetting;
}

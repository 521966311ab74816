// What the HTTP console API (web/console-api.ts) may ask of a shared console: its output by absolute offset, its screen, and input as a named caller.
import type { Role } from './roles.js';

/** The screen as text: what a program reads instead of parsing escape sequences. */
export interface ScreenView {
  rows: string[];
  cursor: { x: number; y: number };
  title: string;
  alternate: boolean;
  /** The screen as escape sequences that redraw it (what a joining page is sent). */
  ansi: string;
}

/** A slice of the console's output ring; offsets count every byte since the route started. */
export interface OutputSlice {
  data: Buffer;
  /** Offset of data[0]; later than the asked `since` when that had left the ring (`gap`). */
  from: number;
  /** The cursor to ask from next time. */
  next: number;
  gap: boolean;
}

/** Why a send was not taken: 403 read-only, 409 not now, 503 the console is full (?max-peers). */
export interface Refusal {
  status: 403 | 409 | 503;
  why: string;
}

/** One recording of the console's history (?history, --history): an asciicast v2 file. */
export interface HistoryFile {
  /** `2026-12-05T23-43-13.123Z.cast`: the file's name in the console's directory. */
  name: string;
  /** When it starts, ISO 8601. */
  start: string;
  /** Bytes now (the newest file is still growing). */
  size: number;
  /** Whether it starts a boot of the device (else it continues the one before). */
  boot: boolean;
}

export interface ConsoleApi {
  read(since: number, max: number): OutputSlice;
  /** The offset the next output byte will have. */
  end(): number;
  /** Resolves once output past `offset` exists, or when `signal` aborts. */
  waitFor(offset: number, signal: AbortSignal): Promise<void>;
  /** The screen model's view (?replay=screen), else undefined. */
  screen(): Promise<ScreenView | undefined>;
  /** Input as this caller: undefined when it reached the device, else why not. */
  send(bytes: Buffer, caller: { role: Role; user?: string; label: string }): Refusal | undefined;
  /** A serial break as this caller (the same checks as `send`). */
  sendBreak(ms: number, caller: { role: Role; user?: string; label: string }): Refusal | undefined;
  /**
   * A place among the console's peers for a caller that waits (expect, wait-quiet): ?max-peers
   * counts it like a peer. Its release, or the cap when the console is full.
   */
  hold(label: string): { release(): void } | { max: number };
  /** The console's recordings, when it keeps a history: the files, and the path of one of them (undefined for any other name). */
  history?: { files(): HistoryFile[]; pathOf(name: string): string | undefined };
}

// The consoles (hubs) of this process and their counters, read by --metrics at each scrape: nothing here costs anything until it is read.
import type { ConsoleApi } from '../core/console-api.js';

/** What a console has counted since its route started. */
export interface ConsoleCounters {
  /** Times the device came back after it was lost (or first came up after start). */
  reopens: number;
  /** Bytes read from the device, and written to it (peers' input that reached it). */
  fromDevice: number;
  toDevice: number;
  /** Peers dropped because they stopped reading (their queue passed ?peer-queue=). */
  dropped: number;
  /** Bytes of peers' input refused: by the policy or role, or while the device was down. */
  refused: number;
}

/** One console as read at a scrape. */
export interface ConsoleSnapshot {
  /** The route's name in the config file, else the device's address. */
  name: string;
  /** The device's label ("pty /dev/pts/4") while known, else its address. */
  device: string;
  up: boolean;
  /** Peers now, by the kind of door they came through (ws-listen, tcp-listen, telnet, unix-listen, udp-listen). */
  peers: Record<string, number>;
  /** Named peers and what each is doing. */
  who: { name: string; doing: string }[];
  counters: ConsoleCounters;
}

const live = new Set<() => ConsoleSnapshot>();

/** Adds a console to the list; returns the function that removes it (its route stopped). */
export function registerConsole(snapshot: () => ConsoleSnapshot): () => void {
  live.add(snapshot);
  return () => live.delete(snapshot);
}

/** Every console now, by name. */
export function snapshotConsoles(): ConsoleSnapshot[] {
  return [...live].map((s) => s()).sort((a, b) => a.name.localeCompare(b.name));
}

const apis = new Map<() => void, { name: string; api: ConsoleApi }>();

/**
 * Adds a console's API to the list that `ptybridge mcp --config` serves (it runs the routes
 * in its own process, with no ws-listen door needed); returns the function that removes it.
 */
export function registerConsoleApi(name: string, api: ConsoleApi): () => void {
  const remove = () => void apis.delete(remove);
  apis.set(remove, { name, api });
  return remove;
}

/** The consoles of this process that have an API, by name. */
export function consoleApis(): { name: string; api: ConsoleApi }[] {
  return [...apis.values()].sort((a, b) => a.name.localeCompare(b.name));
}

// What the console index shows of one console, shared by the server's first render and the page's live updates.
import type { RouteStatus } from '../core/link.js';

/** One console of a shared ws-listen server, as `_ptybridge/consoles.json` gives it to the index page. */
export interface ConsoleJson {
  /** The WebSocket and page path on the server (`/console/vm1`). */
  path: string;
  /** The route's name in the config file, when it has one. */
  name?: string;
  /** Whether the path serves a terminal page (`?web=off`: a WebSocket only, no link). */
  web: boolean;
  /** The shared device's label, when the route has one. */
  device?: string;
  state: 'open' | 'lost' | 'per peer';
  /** When the device last opened (its last boot), ISO 8601. */
  boot?: string;
  peers: number;
  /** Named peers and what each is doing (typing, watching, read-only). */
  who: { name: string; doing: string }[];
}

export function consoleJson(path: string, name: string | undefined, web: boolean, s: RouteStatus): ConsoleJson {
  const d = s.device;
  const who = (s.who ?? []).flatMap((w) => (w.name === undefined ? [] : [{ name: w.name, doing: w.doing }]));
  const boot = d?.since ? { boot: new Date(d.since).toISOString() } : {};
  return {
    path,
    ...(name === undefined ? {} : { name }),
    web,
    ...(d ? { device: d.label } : {}),
    state: d ? (d.open ? 'open' : 'lost') : 'per peer',
    ...boot,
    peers: s.peers,
    who,
  };
}

/**
 * The page's link to a console, relative to the index (`./console/vm1`): under a reverse
 * proxy's prefix (`/a/`) it stays below the prefix. `./` keeps a first segment with a colon
 * from reading as a URL scheme.
 */
export const consoleHref = (path: string) => `./${path.replace(/^\/+/, '')}`;

/** The cells of a row, as text: console, path, device, state, peers ("2 peers: alice (typing)"). */
export function rowCells(c: ConsoleJson): { title: string; path: string; device: string; state: string; peers: string } {
  // Named peers only (users file, trusted proxy): an address says little and shows who is where.
  const names = c.who.map((w) => `${w.name} (${w.doing})`).join(', ');
  const peers = `${c.peers} peer${c.peers === 1 ? '' : 's'}${names ? `: ${names}` : ''}`;
  // The last boot, to the second: "open, booted 2026-12-05 23:43:13Z".
  const boot = c.boot ? `, booted ${c.boot.slice(0, 19).replace('T', ' ')}Z` : '';
  return { title: c.name ?? c.path, path: c.path, device: c.device ?? '', state: `${c.state}${boot}`, peers };
}

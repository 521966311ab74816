// What every route that serves doors shares (fork, rendezvous, hub): opening a door, and the Route that closes them.
import { EndpointError, PtybError } from '../errors.js';
import type { Listener, PeerLink } from '../core/link.js';
import type { ListeningType, OpenContext, Spec } from '../core/endpoint.js';
import type { Logger } from '../log.js';
import { isReadonlyDoor } from '../plan/plan.js';
import type { Transcript } from './transcript.js';

export interface RouteContext {
  log: Logger;
  trace?: (text: string) => void;
  /** The transcript (--log): the device side's output and connect/disconnect events. */
  transcript?: Transcript;
  /** The route's name in a config file: doors show it (the ws-listen index). */
  name?: string;
  /** After one side of a join ended: how long the other may stay silent before both close (-t). */
  linger?: number;
  /**
   * A shared device that cannot be opened at start is waited for (shown down, retried like a
   * lost one) instead of failing the route: always in a config file, on the command line
   * with --wait-for-device.
   */
  waitForDevice?: boolean;
  /** --history ROOT (or a config file's `history:`): each shared device records in ROOT/<console>/. */
  history?: string;
}

/** A running route. `done` resolves with the exit status once the route is over. */
export interface Route {
  done: Promise<number>;
  /** Stops accepting, flushes and closes everything; `done` then resolves with 0. */
  stop(): Promise<void>;
}

type Listening = { type: ListeningType; spec: Spec };

/** What kind of door a peer came through, for logs and metrics: `telnet` for a tcp-listen?telnet, else the scheme. */
export const doorOf = (spec: Spec) => ((spec.options as { telnet?: boolean }).telnet ? 'telnet' : spec.scheme);

/** A `?readonly` door: each of its peers is a watcher, whatever its credential (the planner decides what a door is). */
export { isReadonlyDoor };

/**
 * Opens a door (binds its listener) and logs the "listening on" line tests and users read. A `?readonly`
 * door makes each of its peers a watcher, whatever its credential.
 */
export async function openDoor(e: Listening, onLink: (link: PeerLink) => void, ctx: RouteContext, openCtx: OpenContext): Promise<Listener> {
  let listener: Listener;
  const door = isReadonlyDoor(e) ? (link: PeerLink) => onLink({ ...link, role: 'view' }) : onLink;
  try {
    listener = await e.type.listen(e.spec, door, openCtx);
  } catch (err) {
    // A UsageError from listen (two routes that cannot share an address) keeps its exit status 2.
    throw err instanceof PtybError ? err : new EndpointError(e.spec.uri, err);
  }
  ctx.log.notice(`listening on ${listener.label}`, { event: 'listening', listener: listener.label });
  return listener;
}

/**
 * The Route of anything that serves doors: `stop()` (idempotent) stops accepting, closes
 * what is live (`closeActive`: joins, or a hub and its device), then resolves `done` with 0.
 */
export function doorsRoute(listeners: Listener[], closeActive: () => Promise<void>, abort: AbortController): Route {
  let resolveDone!: (code: number) => void;
  const done = new Promise<number>((r) => (resolveDone = r));
  let stopping: Promise<void> | undefined;
  return {
    done,
    stop() {
      stopping ??= (async () => {
        abort.abort();
        // net.Server.close() waits for its connections, so close those before awaiting it.
        const closing = listeners.map((l) => l.close());
        await closeActive();
        await Promise.all(closing);
        resolveDone(0);
      })();
      return stopping;
    },
  };
}

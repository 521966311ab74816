// Decides how two endpoints meet (DESIGN §3) and runs the route until it ends or is stopped.
import { redactSecrets } from '../uri.js';
import { EndpointError, RouteError, UsageError, describeOsError } from '../errors.js';
import type { ConnectingType, Endpoint, Link, Listener, ListeningType, OpenContext, Sharing, Spec } from '../endpoints/types.js';
import type { Logger } from '../log.js';
import { describeJoin, join, type Join } from './pipe.js';
import { runHub } from './hub.js';
import { bind, isReadonlyDoor, listeningRoute, type Route, type RouteContext } from './listeners.js';
import { sessionStoreFor } from './sessions.js';
import { park } from './waiting.js';
import { mirrorTrace } from './trace.js';

export type { Route, RouteContext } from './listeners.js';

type Connecting = { type: ConnectingType; spec: Spec };
type Listening = { type: ListeningType; spec: Spec };

/** How a connecting endpoint meets a listener: its type's default, or `?share` where it has one. */
export function sharingOf(e: Connecting): Sharing {
  const share = (e.spec.options as { share?: boolean }).share;
  if (share === true) return 'device';
  if (share === false) return 'per-peer';
  return e.type.sharing;
}

/** Refuses pairs that cannot work before anything opens. */
export function checkPair(left: Endpoint, right: Endpoint): void {
  const lr = left.type.role === 'connecting' ? left.type.exclusiveResource : undefined;
  const rr = right.type.role === 'connecting' ? right.type.exclusiveResource : undefined;
  if (lr && lr === rr) {
    throw new RouteError(`${left.spec.uri} and ${right.spec.uri} both use ${lr}; one process has only one`);
  }
}

/** Starts the route between two parsed endpoints. Rejects if an endpoint cannot be opened. */
export async function startRoute(left: Endpoint, right: Endpoint, ctx: RouteContext): Promise<Route> {
  checkPair(left, right);
  const abort = new AbortController();
  const openCtx: OpenContext = { log: ctx.log, signal: abort.signal };
  const l = left as Connecting | Listening;
  const r = right as Connecting | Listening;
  if (l.type.role === 'connecting' && r.type.role === 'connecting') {
    return connectBoth(l as Connecting, r as Connecting, ctx, openCtx, abort);
  }
  if (l.type.role === 'listening' && r.type.role === 'listening') {
    noReadonlyDoor(l as Listening);
    noReadonlyDoor(r as Listening);
    return rendezvous(l as Listening, r as Listening, ctx, openCtx, abort);
  }
  const [listening, connecting] = (l.type.role === 'listening' ? [l, r] : [r, l]) as [Listening, Connecting];
  warnOpenDoors(connecting, [listening], ctx.log);
  if (sharingOf(connecting) === 'device') {
    return runHub(connecting, [listening], ctx, openCtx, abort);
  }
  noReadonlyDoor(listening);
  // Each join runs peer -> upstream; -x marks left -> right with `>`, so mirror when the peer is the right side.
  const forkCtx = listening === r && ctx.trace ? { ...ctx, trace: mirrorTrace(ctx.trace) } : ctx;
  return forkPerPeer(listening, connecting, forkCtx, openCtx, abort);
}

/**
 * Starts the route named on the command line: two addresses (LEFT RIGHT, any pair), or one
 * shared device and several listeners (DEVICE LISTENER LISTENER…) that all feed one hub, so
 * that a browser and a telnet client watch the same console.
 */
export async function startAddresses(addresses: Endpoint[], ctx: RouteContext): Promise<Route> {
  if (addresses.length === 2) return startRoute(addresses[0]!, addresses[1]!, ctx);
  const [device, ...listening] = checkMany(addresses);
  warnOpenDoors(device, listening, ctx.log);
  const abort = new AbortController();
  return runHub(device, listening, ctx, { log: ctx.log, signal: abort.signal }, abort);
}

/** What a shell or a console is reached through: anyone who reaches a door without authentication types into it. */
const CONSOLES = ['exec', 'pty', 'serial'];
const OPEN_DOORS = ['tcp-listen', 'udp-listen'];

/**
 * `exec:bash tcp-listen:PORT`: every local user (loopback is not private) gets the shell,
 * with no token. Said once at start, as ws-listen says ?token=none, with the private ways.
 */
function warnOpenDoors(device: Connecting, doors: Listening[], log: Logger): void {
  if (!CONSOLES.includes(device.type.scheme)) return;
  for (const d of doors) {
    if (!OPEN_DOORS.includes(d.type.scheme)) continue;
    log.warn(`${redactSecrets(d.spec.uri)}: no authentication: anyone who can connect, every local user included, gets ${redactSecrets(device.spec.uri)}${isReadonlyDoor(d) ? '\'s output' : ''}; for a private console use unix-listen:PATH?mode=0600, or ws-listen (token)`, { event: 'open-door' });
  }
}

/** More than two addresses: only DEVICE LISTENER LISTENER… has a meaning; anything else is refused. */
export function checkMany(addresses: Endpoint[]): [Connecting, ...Listening[]] {
  const shape = 'with more than two addresses, the first must be a shared device (pty:, serial:, file:, stdio:, exec:…?share, unix:…?share, tcp:…?share) and every other one a listener (tcp-listen:, ws-listen:, unix-listen:, udp-listen:)';
  const [first, ...rest] = addresses as (Connecting | Listening)[];
  if (first!.type.role !== 'connecting' || sharingOf(first as Connecting) !== 'device') {
    const what = first!.type.role === 'listening' ? 'a listener' : 'opened once per peer, not shared';
    throw new UsageError(`${shape}; ${first!.spec.uri} is ${what}`);
  }
  const notListening = rest.find((e) => e.type.role !== 'listening');
  if (notListening) throw new UsageError(`${shape}; ${notListening.spec.uri} is not a listener`);
  return [first as Connecting, ...(rest as Listening[])];
}

async function openConnecting(e: Connecting, openCtx: OpenContext): Promise<Link> {
  try {
    return await e.type.open(e.spec, openCtx);
  } catch (err) {
    throw err instanceof EndpointError ? err : new EndpointError(e.spec.uri, err);
  }
}

/**
 * Both connecting: open left then right, pipe both ways; done when both directions are, or
 * when one side has ended and the other stayed silent for the linger (socat -t).
 */
async function connectBoth(l: Connecting, r: Connecting, ctx: RouteContext, openCtx: OpenContext, abort: AbortController): Promise<Route> {
  const a = await openConnecting(l, openCtx);
  let b: Link;
  try {
    b = await openConnecting(r, openCtx);
  } catch (err) {
    a.stream.destroy();
    throw err;
  }
  ctx.log.info(`connected ${a.label} <-> ${b.label}`);
  ctx.transcript?.event(`connected ${a.label} <-> ${b.label}`);
  const j = join(a, b, { log: ctx.log, trace: ctx.trace, linger: ctx.linger, tap: { a: ctx.transcript?.data } });
  let stopping = false;
  const done = j.done.then((res) => {
    ctx.log.info(describeJoin(a, b, res));
    ctx.transcript?.event(`disconnected: ${describeJoin(a, b, res)}`);
    abort.abort();
    if (res.error && !stopping) {
      ctx.log.error(`${res.error.link.label}: ${describeOsError(res.error.err)}`);
      return 1;
    }
    return 0;
  });
  return {
    done,
    async stop() {
      stopping = true;
      await j.close();
    },
  };
}

/** Tracks live joins so that a stop can close them all. */
class Joins {
  private readonly live = new Set<Join>();
  add(j: Join): void {
    this.live.add(j);
    j.done.finally(() => this.live.delete(j));
  }
  async closeAll(): Promise<void> {
    await Promise.all([...this.live].map((j) => j.close()));
  }
}

/** Roles are a hub's: a peer of its own fresh connection has nothing to watch but what it types. */
function noReadonlyDoor(e: Listening): void {
  const what = isReadonlyDoor(e) ? '?readonly' : (e.spec.options as { 'view-token'?: string })['view-token'] !== undefined ? 'view-token=' : undefined;
  if (what) throw new UsageError(`${redactSecrets(e.spec.uri)}: ${what} is for the listeners of a shared device (pty:, serial:, file:, exec:…?share); here each peer gets its own connection, with nothing to watch`);
}

/** A watch-only peer (view token, view user) on a route without a shared device is turned away. */
function refusedWatcher(peer: Link, log: Logger): boolean {
  if (peer.role !== 'view') return false;
  log.info(`${peer.label}: refused: a watch-only peer, and this route has no shared device to watch`);
  peer.stream.destroy();
  return true;
}

/** Network target behind a listener: each accepted peer gets its own fresh connection (socat fork). */
async function forkPerPeer(listening: Listening, connecting: Connecting, ctx: RouteContext, openCtx: OpenContext, abort: AbortController): Promise<Route> {
  const joins = new Joins();
  const sessions = sessionStoreFor(connecting.spec, ctx.log);
  const routeCtx = { ...openCtx, route: { name: ctx.name } };
  const listener = await bind(listening, (peer) => {
    if (refusedWatcher(peer, ctx.log)) return;
    ctx.log.info(`${peer.label} connected`);
    peer.stream.on('error', () => {}); // reported when the join ends
    if (sessions && peer.session) {
      // A browser tab: its shell outlives a reload (src/router/sessions.ts).
      return void sessions.attach(peer, peer.session, () => openConnecting(connecting, openCtx)).catch((err: Error) => {
        ctx.log.error(`${peer.label}: ${err.message}`);
        peer.stream.destroy();
      });
    }
    openConnecting(connecting, openCtx).then(
      (upstream) => {
        if (peer.stream.destroyed) return upstream.stream.destroy();
        ctx.transcript?.event(`${peer.label} connected to ${upstream.label}`);
        const j = join(peer, upstream, { log: ctx.log, trace: ctx.trace, linger: ctx.linger, tap: { b: ctx.transcript?.data } });
        joins.add(j);
        j.done.then((res) => {
          ctx.log.info(`${peer.label} left: ${describeJoin(peer, upstream, res)}`);
          ctx.transcript?.event(`${peer.label} left`);
        });
      },
      (err: Error) => {
        ctx.log.error(`${peer.label}: ${err.message}`);
        peer.stream.destroy();
      },
    );
  }, ctx, routeCtx);
  return listeningRoute([listener], async () => void (await Promise.all([joins.closeAll(), sessions?.closeAll()])), abort);
}

/** Two listeners: peers of the two sides are paired in arrival order. */
async function rendezvous(l: Listening, r: Listening, ctx: RouteContext, openCtx: OpenContext, abort: AbortController): Promise<Route> {
  const joins = new Joins();
  type Waiter = { peer: Link; take: () => void };
  const waiting: [Waiter[], Waiter[]] = [[], []];
  const arrive = (side: 0 | 1) => (peer: Link) => {
    if (refusedWatcher(peer, ctx.log)) return;
    ctx.log.info(`${peer.label} connected`);
    peer.stream.on('error', () => {});
    const other = waiting[side === 0 ? 1 : 0];
    while (other.length && other[0]!.peer.stream.destroyed) other.shift();
    const waiter = other.shift();
    if (!waiter) {
      // A peer that leaves while waiting is dropped; it used to hold its socket forever.
      const me: Waiter = {
        peer,
        take: park(peer, () => {
          const i = waiting[side].indexOf(me);
          if (i >= 0) waiting[side].splice(i, 1);
          ctx.log.info(`${peer.label} left before a partner came`);
        }),
      };
      waiting[side].push(me);
      return;
    }
    waiter.take();
    const partner = waiter.peer;
    const [a, b] = side === 0 ? [peer, partner] : [partner, peer];
    ctx.transcript?.event(`connected ${a.label} <-> ${b.label}`);
    const j = join(a, b, { log: ctx.log, trace: ctx.trace, linger: ctx.linger, tap: { a: ctx.transcript?.data } });
    joins.add(j);
    j.done.then((res) => {
      ctx.log.info(describeJoin(a, b, res));
      ctx.transcript?.event(`disconnected ${a.label} <-> ${b.label}`);
    });
  };
  const routeCtx = { ...openCtx, route: { name: ctx.name } };
  const left = await bind(l, arrive(0), ctx, routeCtx);
  let right: Listener;
  try {
    right = await bind(r, arrive(1), ctx, routeCtx);
  } catch (err) {
    await left.close();
    throw err;
  }
  return listeningRoute([left, right], async () => {
    waiting.flat().forEach((w) => w.peer.stream.destroy());
    await joins.closeAll();
  }, abort);
}

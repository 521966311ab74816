// Runs a planned route (src/plan/plan.ts: pipe, fork, rendezvous or hub) until it ends or is stopped.
import { redactSecrets } from '../uri.js';
import { EndpointError, describeOsError } from '../errors.js';
import type { Endpoint, OpenContext } from '../core/endpoint.js';
import type { DeviceLink, Listener, PeerLink } from '../core/link.js';
import { planAddresses, planPair, type Connecting, type Listening, type Plan } from '../plan/plan.js';
import type { Logger } from '../log.js';
import { describeJoin, join, type Join } from './pipe.js';
import { openDoor, doorOf, isReadonlyDoor, doorsRoute, type Route, type RouteContext } from './doors.js';
import { park } from './waiting.js';
import { mirrorTrace } from './trace.js';

export type { Route, RouteContext } from './doors.js';
/** Shim export: the planner owns it now (src/plan/plan.ts). */
export { sharingOf } from '../plan/plan.js';

/** Starts a planned route (src/plan/plan.ts). Rejects if an endpoint cannot be opened or bound. */
export async function startPlan(plan: Plan, ctx: RouteContext): Promise<Route> {
  await preflight(plan);
  if (plan.kind === 'hub') warnOpenDoors(plan.device, plan.doors, ctx.log);
  if (plan.kind === 'fork') warnOpenDoors(plan.upstream, [plan.door], ctx.log);
  const abort = new AbortController();
  const openCtx: OpenContext = { log: ctx.log, signal: abort.signal };
  switch (plan.kind) {
    case 'pipe':
      return connectBoth(plan.left, plan.right, ctx, openCtx, abort);
    case 'rendezvous':
      return rendezvous(plan.left, plan.right, ctx, openCtx, abort);
    case 'hub':
      // The hub's code (screen model, console API, observers) loads for a hub route only.
      return (await import('./hub.js')).runHub(plan.device, plan.doors, ctx, openCtx, abort);
    case 'fork': {
      // Each join runs peer -> upstream; -x marks left -> right with `>`, so mirror when the peer is the right side.
      const forkCtx = plan.doorIsRight && ctx.trace ? { ...ctx, trace: mirrorTrace(ctx.trace) } : ctx;
      return forkPerPeer(plan.door, plan.upstream, forkCtx, openCtx, abort);
    }
  }
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
    log.warn(
      `${redactSecrets(d.spec.uri)}: no authentication: anyone who can connect, every local user included, gets ${redactSecrets(device.spec.uri)}${isReadonlyDoor(d) ? "'s output" : ''}; for a private console use unix-listen:PATH?mode=0600, tls-listen with ?client-ca=, or ws-listen (token)`,
      { event: 'open-door' },
    );
  }
}

/** Checks what each connecting address can know before anything listens (exec: its command). */
async function preflight(plan: Plan): Promise<void> {
  const ends = plan.kind === 'hub' ? [plan.device] : plan.kind === 'fork' ? [plan.upstream] : plan.kind === 'pipe' ? [plan.left, plan.right] : [];
  for (const e of ends) await e.type.preflight?.(e.spec);
}

/** Plans and starts the route between two parsed endpoints. */
export async function startRoute(left: Endpoint, right: Endpoint, ctx: RouteContext): Promise<Route> {
  return startPlan(planPair(left, right), ctx);
}

/** Plans and starts the route named on the command line: LEFT RIGHT, or DEVICE LISTENER LISTENER…. */
export async function startAddresses(addresses: Endpoint[], ctx: RouteContext): Promise<Route> {
  return startPlan(planAddresses(addresses), ctx);
}

async function openConnecting(e: Connecting, openCtx: OpenContext): Promise<DeviceLink> {
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
  let b: DeviceLink;
  try {
    b = await openConnecting(r, openCtx);
  } catch (err) {
    a.stream.destroy();
    throw err;
  }
  ctx.log.info(`connected ${a.label} <-> ${b.label}`, { event: 'connected', left: a.label, right: b.label });
  ctx.transcript?.event(`connected ${a.label} <-> ${b.label}`);
  const j = join(a, b, { log: ctx.log, trace: ctx.trace, linger: ctx.linger, tap: { a: ctx.transcript?.data } });
  let stopping = false;
  const done = j.done.then((res) => {
    ctx.log.info(describeJoin(a, b, res), {
      event: 'disconnected',
      left: a.label,
      right: b.label,
      bytes_left_to_right: res.aToB,
      bytes_right_to_left: res.bToA,
    });
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

/** A watch-only peer (view token, view user) on a route without a shared device is turned away. */
function refusedWatcher(peer: PeerLink, log: Logger): boolean {
  if (peer.role !== 'view') return false;
  log.info(`${peer.label}: refused: a watch-only peer, and this route has no shared device to watch`, {
    event: 'peer-refused',
    peer: peer.label,
    user: peer.user,
    reason: 'watch-only peer, no shared device',
  });
  peer.stream.destroy();
  return true;
}

/** A per-peer end behind a door: each accepted peer gets its own fresh connection (socat fork). */
async function forkPerPeer(listening: Listening, connecting: Connecting, ctx: RouteContext, openCtx: OpenContext, abort: AbortController): Promise<Route> {
  const joins = new Joins();
  // Only a per-peer exec: keeps sessions (sessionStoreFor); other routes do not load their code.
  const sessions = connecting.spec.scheme === 'exec' ? (await import('./sessions.js')).sessionStoreFor(connecting.spec, ctx.log) : undefined;
  const routeCtx = { ...openCtx, route: { name: ctx.name } };
  const door = doorOf(listening.spec);
  let peers = 0;
  const listener = await openDoor(
    listening,
    (peer) => {
      if (refusedWatcher(peer, ctx.log)) return;
      // The same events, with the same fields, as a hub's peers (docs/LOG-EVENTS.md).
      ctx.log.info(`${peer.label} connected (${++peers} peer${peers === 1 ? '' : 's'})`, {
        event: 'peer-connected',
        peer: peer.label,
        user: peer.user,
        role: peer.role ?? 'full',
        door,
        peers,
      });
      peer.stream.once('close', () => peers--);
      peer.stream.on('error', () => {}); // reported when the join ends
      if (sessions && peer.session) {
        // A browser tab: its shell outlives a reload (src/router/sessions.ts).
        return void sessions
          .attach(peer, peer.session, () => openConnecting(connecting, openCtx))
          .catch((err: Error) => {
            ctx.log.error(`${peer.label}: ${err.message}`, { event: 'upstream-failed', peer: peer.label, error: err.message });
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
            ctx.log.info(`${peer.label} left: ${describeJoin(peer, upstream, res)}`, {
              event: 'peer-left',
              peer: peer.label,
              user: peer.user,
              upstream: upstream.label,
              bytes_in: res.aToB,
              bytes_out: res.bToA,
              error: res.error && describeOsError(res.error.err),
            });
            ctx.transcript?.event(`${peer.label} left`);
          });
        },
        (err: Error) => {
          ctx.log.error(`${peer.label}: ${err.message}`, { event: 'upstream-failed', peer: peer.label, error: err.message });
          peer.stream.destroy();
        },
      );
    },
    ctx,
    routeCtx,
  );
  return doorsRoute([listener], async () => void (await Promise.all([joins.closeAll(), sessions?.closeAll()])), abort);
}

/** Two doors: peers of the two sides are paired in arrival order. */
async function rendezvous(l: Listening, r: Listening, ctx: RouteContext, openCtx: OpenContext, abort: AbortController): Promise<Route> {
  const joins = new Joins();
  type Waiter = { peer: PeerLink; take: () => void };
  const waiting: [Waiter[], Waiter[]] = [[], []];
  const doors = [doorOf(l.spec), doorOf(r.spec)];
  const arrive = (side: 0 | 1) => (peer: PeerLink) => {
    if (refusedWatcher(peer, ctx.log)) return;
    ctx.log.info(`${peer.label} connected`, { event: 'peer-connected', peer: peer.label, user: peer.user, role: peer.role ?? 'full', door: doors[side] });
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
          ctx.log.info(`${peer.label} left before a partner came`, { event: 'peer-left', peer: peer.label, user: peer.user, bytes_in: 0, bytes_out: 0 });
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
      // One line for the pair: `peer` is the left door's, `partner` the right's.
      ctx.log.info(describeJoin(a, b, res), {
        event: 'peer-left',
        peer: a.label,
        partner: b.label,
        bytes_in: res.aToB,
        bytes_out: res.bToA,
        error: res.error && describeOsError(res.error.err),
      });
      ctx.transcript?.event(`disconnected ${a.label} <-> ${b.label}`);
    });
  };
  const routeCtx = { ...openCtx, route: { name: ctx.name } };
  const left = await openDoor(l, arrive(0), ctx, routeCtx);
  let right: Listener;
  try {
    right = await openDoor(r, arrive(1), ctx, routeCtx);
  } catch (err) {
    await left.close();
    throw err;
  }
  return doorsRoute(
    [left, right],
    async () => {
      waiting.flat().forEach((w) => w.peer.stream.destroy());
      await joins.closeAll();
    },
    abort,
  );
}

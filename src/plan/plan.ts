// The route planner: turns a command line's addresses or a config route into a typed plan, and makes every check of a route's shape.
import type { ConnectingType, Endpoint, ListeningType, Sharing, Spec } from '../core/endpoint.js';
import type { HubSettings } from '../core/hub-settings.js';
import { hubOptions, hubSettingsOf } from '../endpoints/hub-options.js';
import { formatSize, showValue } from '../options.js';
import { RouteError, UsageError } from '../errors.js';
import { isSecretKey, quoteUri, redactSecrets, splitAddress } from '../uri.js';

export type Connecting = { type: ConnectingType; spec: Spec };
export type Listening = { type: ListeningType; spec: Spec };

/**
 * What a route is, decided before anything opens (docs/ARCHITECTURE.md, "Route shapes"):
 * - `pipe`: two connecting ends, opened once, joined both ways (socat);
 * - `fork`: a door whose every peer gets its own fresh upstream connection (socat fork, websockify);
 * - `rendezvous`: two doors whose peers are paired in arrival order;
 * - `hub`: one shared device behind one or more doors.
 */
export type Plan =
  | { kind: 'pipe'; left: Connecting; right: Connecting }
  /** `doorIsRight`: the door was written second (a hex trace then shows the upstream's bytes as `>`). */
  | { kind: 'fork'; door: Listening; upstream: Connecting; doorIsRight: boolean }
  | { kind: 'rendezvous'; left: Listening; right: Listening }
  | { kind: 'hub'; device: Connecting; doors: Listening[]; settings: HubSettings };

export type PlanKind = Plan['kind'];

/** How a connecting endpoint meets a door: its type's default, or `?share` where it has one. */
export function sharingOf(e: Connecting): Sharing {
  const share = (e.spec.options as { share?: boolean }).share;
  if (share === true) return 'device';
  if (share === false) return 'per-peer';
  return e.type.sharing;
}

/** A door whose peers only watch (`?readonly`). */
export const isReadonlyDoor = (e: Listening) => (e.spec.options as { readonly?: boolean }).readonly === true;

const isConnecting = (e: Endpoint): e is Connecting => e.type.role === 'connecting';
const isListening = (e: Endpoint): e is Listening => e.type.role === 'listening';

/**
 * The plan for the addresses of a command line: LEFT RIGHT (any pair), or DEVICE LISTENER
 * LISTENER… (more than two: always a hub). Throws UsageError or RouteError (exit 2).
 */
export function planAddresses(addresses: Endpoint[]): Plan {
  if (addresses.length < 2) throw new UsageError(`expected two addresses, LEFT and RIGHT (or DEVICE LISTENER…), got ${addresses.length}; see ptybridge --help`);
  if (addresses.length === 2) return planPair(addresses[0]!, addresses[1]!);
  const [device, ...doors] = addresses;
  return planHub(device!, doors);
}

/** The plan for two addresses: their roles and the connecting one's sharing pick the shape. */
export function planPair(left: Endpoint, right: Endpoint): Plan {
  checkExclusive([left, right]);
  if (isConnecting(left) && isConnecting(right)) {
    refuseIneffectiveHubOptions([left, right]);
    return { kind: 'pipe', left, right };
  }
  if (isListening(left) && isListening(right)) {
    refuseIneffectiveHubOptions([left, right]);
    noReadonlyDoor(left);
    noReadonlyDoor(right);
    return { kind: 'rendezvous', left, right };
  }
  const [door, connecting] = (isListening(left) ? [left, right] : [right, left]) as [Listening, Connecting];
  if (sharingOf(connecting) === 'device') return hub(connecting, [door]);
  refuseIneffectiveHubOptions([left, right]);
  noReadonlyDoor(door);
  return { kind: 'fork', door, upstream: connecting, doorIsRight: door === right };
}

const HUB_SHAPE =
  'the first must be a shared device (pty:, serial:, file:, stdio:, exec:…?share, unix:…?share, tcp:…?share, tls:…?share) and every other one a listener (tcp-listen:, tls-listen:, ws-listen:, unix-listen:, udp-listen:)';

/**
 * One shared device and its doors: the command line's DEVICE LISTENER LISTENER…, a config
 * route's `device:` and `doors:`. Anything else is refused, naming the address that does not fit.
 */
export function planHub(device: Endpoint, doors: Endpoint[], shape = `with more than two addresses, ${HUB_SHAPE}`): Plan {
  checkExclusive([device, ...doors]);
  if (!isConnecting(device) || sharingOf(device) !== 'device') {
    const what = isListening(device) ? 'a listener' : 'opened once per peer, not shared';
    throw new UsageError(`${shape}; ${device.spec.uri} is ${what}`);
  }
  const notListening = doors.find((e) => !isListening(e));
  if (notListening) throw new UsageError(`${shape}; ${notListening.spec.uri} is not a listener`);
  if (doors.length === 0) throw new UsageError(`${shape}; ${device.spec.uri} has no listener`);
  return hub(device, doors as Listening[]);
}

/** The wording a config file's `device:`/`doors:` route is refused with. */
export const CONFIG_HUB_SHAPE = `a route with device and doors: ${HUB_SHAPE.replace('the first', 'the device').replace('every other one', 'every door')}`;

function hub(device: Connecting, doors: Listening[]): Plan {
  return { kind: 'hub', device, doors, settings: hubSettingsOf(device.spec) };
}

/** stdio and the like exist once per process: two of them on one route cannot work. */
function checkExclusive(addresses: Endpoint[]): void {
  const seen = new Map<string, Endpoint>();
  for (const e of addresses) {
    const res = isConnecting(e) ? e.type.exclusiveResource : undefined;
    if (!res) continue;
    const other = seen.get(res);
    if (other) throw new RouteError(`${other.spec.uri} and ${e.spec.uri} both use ${res}; one process has only one`);
    seen.set(res, e);
  }
}

/** Every option the hub reads from a device's address. */
const HUB_OPTIONS = Object.keys(hubOptions);

/**
 * The hub's options (`?policy`, `?replay`, `?peer-queue`, `?max-peers`, `?log-input`) on a route that is no
 * hub (a device that meets no door, `exec:` without `?share`) would do nothing: refused
 * rather than ignored.
 */
function refuseIneffectiveHubOptions(addresses: Endpoint[]): void {
  for (const e of addresses) {
    const written = HUB_OPTIONS.find((k) => splitAddress(e.spec.uri).query.has(k));
    if (!written) continue;
    const needs = isConnecting(e) && sharingOf(e) !== 'device' && 'share' in e.type.options.shape ? ' (add ?share)' : '';
    throw new UsageError(`${quoteUri(e.spec.uri)}: option "${written}" has no effect here: it applies to a shared device behind a listener${needs}`);
  }
}

/** Roles are a hub's: a peer of its own fresh connection, or of a rendezvous, has nothing to watch but what it types. */
function noReadonlyDoor(e: Listening): void {
  const what = isReadonlyDoor(e) ? '?readonly' : (e.spec.options as { 'view-token'?: string })['view-token'] !== undefined ? 'view-token=' : undefined;
  if (what)
    throw new UsageError(
      `${redactSecrets(e.spec.uri)}: ${what} is for the listeners of a shared device (pty:, serial:, file:, exec:…?share); here each peer gets its own connection, with nothing to watch`,
    );
}

const SUMMARY: Record<PlanKind, string> = {
  pipe: 'pipe: connect both ends',
  fork: 'fork: each peer gets its own upstream',
  rendezvous: 'rendezvous: peers of the two doors paired in arrival order',
  hub: 'hub: one shared device',
};

/**
 * The plan in words, for `--check`: its kind, then one line per address with its role in the
 * plan and its options (defaults filled in), and for a hub the settings it runs with.
 */
export function describePlan(plan: Plan): string[] {
  // Durations and sizes as a user writes them (10s, 1M); the hub's options only where there is a hub.
  // Printed where ExecStartPre's output lands (the journal): secrets show as `…`.
  const shown = (e: Endpoint, k: string, v: unknown) =>
    isSecretKey(k) && v !== 'none' ? '…' : typeof v === 'object' ? JSON.stringify(v) : showValue(e.type.options.shape[k] as Parameters<typeof showValue>[0], v);
  const opts = (e: Endpoint) =>
    Object.entries(e.spec.options as Record<string, unknown>)
      .filter(([k, v]) => v !== undefined && (plan.kind === 'hub' || (!HUB_OPTIONS.includes(k) && k !== 'screen')))
      .map(([k, v]) => `${k}=${shown(e, k, v)}`)
      .join(' ');
  const line = (role: string, e: Endpoint) => `  ${role.padEnd(8)}  ${redactSecrets(e.spec.uri)}  [${opts(e)}]`;
  const head = plan.kind === 'hub' ? `${SUMMARY.hub}, ${plan.doors.length} door${plan.doors.length === 1 ? '' : 's'}` : SUMMARY[plan.kind];
  switch (plan.kind) {
    case 'pipe':
      return [head, line('left', plan.left), line('right', plan.right)];
    case 'rendezvous':
      return [head, line('door', plan.left), line('door', plan.right)];
    case 'fork': {
      const lines = [line('door', plan.door), line('upstream', plan.upstream)];
      return [head, ...(plan.doorIsRight ? lines.reverse() : lines)];
    }
    case 'hub': {
      const s = plan.settings;
      const replay =
        s.replay.mode === 'screen'
          ? `screen (scrollback ${s.replay.scrollback}, ${s.size.cols}x${s.size.rows})`
          : s.replay.mode === 'bytes'
            ? `bytes (last ${formatSize(s.replay.size)})`
            : s.replay.mode === 'since-boot'
              ? `since-boot (at most ${formatSize(s.replay.size)})`
              : 'off';
      return [
        head,
        line('device', plan.device),
        ...plan.doors.map((d) => line('door', d)),
        `  ${'hub'.padEnd(8)}  policy ${s.policy}, replay ${replay}, peer-queue ${formatSize(s['peer-queue'])}, max-peers ${s['max-peers']}, log-input ${s['log-input'] ? 'on' : 'off'}${s.history.dir !== undefined ? `, history ${s.history.dir} (at most ${formatSize(s.history.max)})` : ''}`,
      ];
    }
  }
}

// Options that cannot take effect where they are written are refused (exit 2), never ignored: the user believes they work.
import { UsageError } from './errors.js';
import type { Endpoint } from './endpoints/registry.js';
import { hubOptions } from './endpoints/hub-options.js';
import { sharingOf } from './router/route.js';
import { quoteUri, splitAddress } from './uri.js';

/** True when the pair makes a hub: a shared device behind a listener (DESIGN §3). */
export function isHub(left: Endpoint, right: Endpoint): boolean {
  const roles = [left.type.role, right.type.role];
  if (!roles.includes('connecting') || !roles.includes('listening')) return false;
  const c = (left.type.role === 'connecting' ? left : right) as Parameters<typeof sharingOf>[0];
  return sharingOf(c) === 'device';
}

/** Every option the hub reads from a device's address. */
export const HUB_OPTIONS = Object.keys(hubOptions);

/**
 * The hub's options (`?policy`, `?replay`, `?peer-queue`, `?log-input`) written on a device that meets no
 * listener, or on `exec:` without `?share`, do nothing: refused (UsageError, exit 2) rather
 * than ignored. With more than two addresses the shape is DEVICE LISTENER…, always a hub.
 */
export function refuseIdleHubOptions(addresses: Endpoint[]): void {
  if (addresses.length !== 2 || isHub(addresses[0]!, addresses[1]!)) return;
  for (const e of addresses) {
    const written = HUB_OPTIONS.find((k) => splitAddress(e.spec.uri).query.has(k));
    if (!written) continue;
    const needs = e.type.role === 'connecting' && sharingOf(e as Parameters<typeof sharingOf>[0]) !== 'device' && 'share' in e.type.options.shape ? ' (add ?share)' : '';
    throw new UsageError(`${quoteUri(e.spec.uri)}: option "${written}" has no effect here: it applies to a shared device behind a listener${needs}`);
  }
}

/** The CLI's flags that act on something the addresses may lack: --log-max-size/--log-keep, --escape, hub options. */
export function refuseIdleFlags(values: { log?: string; 'log-max-size'?: string; 'log-keep'?: string; escape?: string }, addresses: Endpoint[]): void {
  for (const flag of ['log-max-size', 'log-keep'] as const) {
    if (values[flag] !== undefined && values.log === undefined) throw new UsageError(`--${flag} has no effect without --log FILE`);
  }
  if (values.escape !== undefined && !addresses.some((e) => e.spec.scheme === 'stdio')) {
    throw new UsageError('--escape has no effect without a stdio address (- or stdio:)');
  }
  refuseIdleHubOptions(addresses);
}

// Options that cannot take effect where they are written are refused (exit 2), never ignored: the user believes they work.
import { UsageError } from './errors.js';
import type { Endpoint } from './endpoints/registry.js';

/** The CLI's flags that act on something the addresses may lack: --log-max-size/--log-keep, --escape (hub options on a route that is no hub: src/plan/plan.ts). */
export function refuseIneffectiveFlags(
  values: { log?: string; 'log-max-size'?: string; 'log-keep'?: string; 'log-fifo'?: boolean; escape?: string },
  addresses: Endpoint[],
): void {
  for (const flag of ['log-max-size', 'log-keep', 'log-fifo'] as const) {
    if (values[flag] !== undefined && values.log === undefined) throw new UsageError(`--${flag} has no effect without --log FILE`);
  }
  if (values.escape !== undefined && !addresses.some((e) => e.spec.scheme === 'stdio')) {
    throw new UsageError('--escape has no effect without a stdio address (- or stdio:)');
  }
}

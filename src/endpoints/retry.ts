// Retrying an open that the far side refused, for connecting types with `?retry=`.
import { setTimeout as sleep } from 'node:timers/promises';
import { int, duration } from '../options.js';
import type { OpenContext } from '../core/endpoint.js';
import { EndpointError, UsageError, describeOsError } from '../errors.js';
import { quoteUri, splitAddress } from '../uri.js';

/** Options every retrying connecting type adds to its schema. */
export const retryOptions = {
  retry: int(0, 0, 1_000_000, 'how many more times to try when the connection is refused or fails'),
  interval: duration(1000, 'wait between tries'),
};

/** Runs `attempt` up to 1 + retries times, waiting `interval` ms between tries. */
export async function withRetry<T>(attempt: () => Promise<T>, opts: { retry: number; interval: number }, ctx: OpenContext, what: string): Promise<T> {
  for (let tries = 0; ; tries++) {
    try {
      return await attempt();
    } catch (err) {
      if (tries >= opts.retry || ctx.signal.aborted) throw err;
      // An EndpointError already starts with the URI: name it once.
      const cause = err instanceof EndpointError ? describeOsError(err.cause) : describeOsError(err);
      ctx.log.info(`${what}: ${cause}; retrying in ${opts.interval} ms (${opts.retry - tries} left)`);
      await sleep(opts.interval, undefined, { signal: ctx.signal }).catch(() => {});
    }
  }
}

/** `?interval=` without `?retry=` would do nothing: refused, as every option that cannot take effect is. */
export function validateRetry(spec: { uri: string; options: { retry: number } }): void {
  if (spec.options.retry === 0 && splitAddress(spec.uri).query.has('interval')) {
    throw new UsageError(`${quoteUri(spec.uri)}: option "interval" has no effect without ?retry=N (it is the wait between tries)`);
  }
}

/** Shared sockets whose first connect has been tried: from then on the hub's backoff is their retry. */
const triedOnce = new WeakSet<object>();

/**
 * withRetry for a connecting socket: `?retry=` covers its first connect; a `?share`d one that
 * the hub connects again (after a loss, or while waiting for it at start) tries once each
 * time, so that the hub's backoff (and its one log line per new error) rules there, not N
 * quick tries and a log line for each.
 */
export async function withConnectRetry<T>(
  attempt: () => Promise<T>,
  spec: { uri: string; options: { retry: number; interval: number; share?: boolean } },
  ctx: OpenContext,
): Promise<T> {
  if (spec.options.share !== true) return withRetry(attempt, spec.options, ctx, spec.uri);
  if (triedOnce.has(spec)) return attempt();
  try {
    return await withRetry(attempt, spec.options, ctx, spec.uri);
  } finally {
    triedOnce.add(spec);
  }
}

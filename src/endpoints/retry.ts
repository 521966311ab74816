// Retrying an open that the far side refused, for connecting types with `?retry=`.
import { setTimeout as sleep } from 'node:timers/promises';
import { int, duration } from '../options.js';
import type { OpenContext } from './types.js';
import { EndpointError, UsageError, describeOsError } from '../errors.js';
import { quoteUri, splitAddress } from '../uri.js';

/** Options every retrying connecting type adds to its schema. */
export const retryOptions = {
  retry: int(0, 0, 1_000_000, 'how many more times to try when the connection is refused or fails'),
  interval: duration(1000, 'wait between tries'),
};

/** Runs `attempt` up to 1 + retries times, waiting `interval` ms between tries. */
export async function withRetry<T>(
  attempt: () => Promise<T>,
  opts: { retry: number; interval: number },
  ctx: OpenContext,
  what: string,
): Promise<T> {
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

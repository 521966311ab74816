// One address parsed by its endpoint type: the target, the options, the type's own checks.
import { socatHint } from '../address-hints.js';
import { UsageError } from '../errors.js';
import { decodeTarget, parseOptions, quoteUri, type RawAddress } from '../uri.js';
import type { Endpoint, EndpointType, Spec } from '../core/endpoint.js';

/** Parses `uri` (already split: `raw`) as an address of `type`; throws UsageError naming the URI and the problem. */
export function parseAs(type: EndpointType, uri: string, raw: RawAddress): Endpoint {
  let target: unknown;
  let options: Spec['options'];
  try {
    target = type.parseTarget(type.urlTarget ? raw.target : decodeTarget(raw), uri);
    options = parseOptions(raw, type.options);
  } catch (err) {
    const socat = err instanceof UsageError ? socatHint(uri) : undefined;
    if (socat) throw new UsageError(`${quoteUri(uri)}: ${socat}`);
    throw err;
  }
  const spec: Spec = { uri, scheme: type.scheme, target, options };
  type.validate?.(spec);
  return { type, spec };
}

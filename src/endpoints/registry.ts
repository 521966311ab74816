// Every endpoint type loaded at once, for what needs them all (parsing a config file, --help): the rows of schemes.ts, in their order.
import { urlSchemeHint } from '../address-hints.js';
import { UsageError } from '../errors.js';
import { didYouMean, quoteUri, splitAddress } from '../uri.js';
import { parseAs } from './parse-address.js';
import { SCHEMES, findScheme, schemeNames, type Scheme } from './schemes.js';
import * as exec from './exec.js';
import * as file from './file.js';
import * as pty from './pty.js';
import * as serial from './serial.js';
import * as stdio from './stdio.js';
import * as tcp from './tcp.js';
import * as tls from './tls.js';
import * as udp from './udp.js';
import * as unix from './unix.js';
import type { Endpoint, EndpointType } from '../core/endpoint.js';
import * as ws from './ws.js';
import * as wsListen from './ws-listen.js';

/**
 * The family modules, imported here all at once (a command line's addresses load only theirs,
 * through schemes.ts). A new family's module is one line here; a new scheme is a row there.
 */
const FAMILIES: readonly object[] = [exec, file, pty, serial, stdio, tcp, tls, udp, unix, ws, wsListen];

const isType = (v: unknown): v is EndpointType =>
  typeof v === 'object' && v !== null && typeof (v as EndpointType).scheme === 'string' && 'role' in v && 'parseTarget' in v;
const byScheme = new Map(FAMILIES.flatMap((m) => Object.values(m).filter(isType)).map((t) => [t.scheme, t]));

/** Every endpoint type, in the order `--help` lists them (the order of schemes.ts's rows). */
export const registry: readonly EndpointType[] = SCHEMES.map((s) => {
  const t = byScheme.get(s.scheme);
  if (!t) throw new Error(`schemes.ts names ${s.scheme}, which no module in registry.ts's FAMILIES exports`);
  return t;
});

/** Finds a type by scheme or alias (any case). */
export function findType(scheme: string): EndpointType | undefined {
  const s = findScheme(scheme);
  return s && byScheme.get(s.scheme);
}

/** The aliases of a type's scheme, from its row in schemes.ts. */
export const aliasesOf = (t: EndpointType): readonly string[] => findScheme(t.scheme)?.aliases ?? [];

export { schemeNames, type Scheme };
export type { Endpoint } from '../core/endpoint.js';

/** Parses and validates one address; throws UsageError naming the URI and the problem. */
export function parseEndpoint(uri: string): Endpoint {
  const raw = splitAddress(uri);
  const type = findType(raw.scheme);
  if (!type) {
    const url = urlSchemeHint(uri);
    const hint = url === undefined ? didYouMean(raw.scheme, schemeNames()) : undefined;
    const suggestion =
      url !== undefined ? ` (did you mean "${quoteUri(url)}"? a WebSocket peer is ws:// or wss://)` : hint ? ` (did you mean "${hint}:"?)` : '';
    throw new UsageError(`${quoteUri(uri)}: unknown scheme "${raw.scheme}"${suggestion}; known: ${registry.map((t) => t.scheme).join(', ')}`);
  }
  return parseAs(type, uri, raw);
}

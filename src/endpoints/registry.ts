// The one table of endpoint types: parsing, --help and the config validator all read it.
import { urlSchemeHint } from '../address-hints.js';
import { UsageError } from '../errors.js';
import { didYouMean, quoteUri, splitAddress } from '../uri.js';
import { parseAs } from './parse-address.js';
import { exec } from './exec.js';
import { file } from './file.js';
import { pty } from './pty.js';
import { serial } from './serial.js';
import { stdio } from './stdio.js';
import { tcp, tcpListen } from './tcp.js';
import { tlsConnect, tlsListen } from './tls.js';
import { udp, udpListen } from './udp.js';
import { unix, unixListen } from './unix.js';
import type { Endpoint, EndpointType } from '../core/endpoint.js';
import { ws, wss } from './ws.js';
import { wsListen } from './ws-listen.js';

/** Every endpoint type, in the order `--help` lists them. Adding a scheme = one row here and one in schemes.ts. */
export const registry: readonly EndpointType[] = [
  tcp,
  tcpListen,
  tlsConnect,
  tlsListen,
  unix,
  unixListen,
  udp,
  udpListen,
  file,
  stdio,
  pty,
  serial,
  exec,
  ws,
  wss,
  wsListen,
];

/** Finds a type by scheme or alias. */
export function findType(scheme: string): EndpointType | undefined {
  const s = scheme.toLowerCase();
  return registry.find((t) => t.scheme === s || t.aliases?.includes(s));
}

export type { Endpoint } from '../core/endpoint.js';

/** Parses and validates one address; throws UsageError naming the URI and the problem. */
export function parseEndpoint(uri: string): Endpoint {
  const raw = splitAddress(uri);
  const type = findType(raw.scheme);
  if (!type) {
    const names = registry.flatMap((t) => [t.scheme, ...(t.aliases ?? [])]);
    const url = urlSchemeHint(uri);
    const hint = url === undefined ? didYouMean(raw.scheme, names) : undefined;
    const suggestion =
      url !== undefined ? ` (did you mean "${quoteUri(url)}"? a WebSocket peer is ws:// or wss://)` : hint ? ` (did you mean "${hint}:"?)` : '';
    throw new UsageError(`${quoteUri(uri)}: unknown scheme "${raw.scheme}"${suggestion}; known: ${registry.map((t) => t.scheme).join(', ')}`);
  }
  return parseAs(type, uri, raw);
}

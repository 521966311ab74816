// The one table of schemes: each row names a scheme and its aliases and loads its type's module only when an address names it (a route's start loads the types it uses, not all sixteen: bench/results-binary.md); registry.ts lists the same rows with every type loaded.
import type { Endpoint, EndpointType } from '../core/endpoint.js';
import { splitAddress } from '../uri.js';
import { parseAs } from './parse-address.js';

/** One scheme: the names an address may give it, and its endpoint type, loaded on first use. */
export interface Scheme {
  /** The canonical name: the `scheme` of the type `load` gives. */
  scheme: string;
  /** Names socat users type (`tcp-l`, `open`); `--help` lists them. */
  aliases?: readonly string[];
  /** The type, from its family's module (`src/endpoints/<family>.ts`), imported only now. */
  load: () => Promise<EndpointType>;
}

/** Every scheme, in the order `--help` lists them. Adding a scheme: one module, one row here, one test file. */
export const SCHEMES: readonly Scheme[] = [
  { scheme: 'tcp', load: async () => (await import('./tcp.js')).tcp },
  { scheme: 'tcp-listen', aliases: ['tcp-l'], load: async () => (await import('./tcp.js')).tcpListen },
  { scheme: 'tls', aliases: ['ssl', 'openssl'], load: async () => (await import('./tls.js')).tlsConnect },
  { scheme: 'tls-listen', aliases: ['tls-l', 'ssl-listen', 'openssl-listen', 'ssl-l'], load: async () => (await import('./tls.js')).tlsListen },
  { scheme: 'unix', aliases: ['unix-connect'], load: async () => (await import('./unix.js')).unix },
  { scheme: 'unix-listen', aliases: ['unix-l'], load: async () => (await import('./unix.js')).unixListen },
  { scheme: 'udp', load: async () => (await import('./udp.js')).udp },
  { scheme: 'udp-listen', aliases: ['udp-l'], load: async () => (await import('./udp.js')).udpListen },
  { scheme: 'file', aliases: ['open'], load: async () => (await import('./file.js')).file },
  { scheme: 'stdio', load: async () => (await import('./stdio.js')).stdio },
  { scheme: 'pty', load: async () => (await import('./pty.js')).pty },
  { scheme: 'serial', aliases: ['tty'], load: async () => (await import('./serial.js')).serial },
  { scheme: 'exec', load: async () => (await import('./exec.js')).exec },
  { scheme: 'ws', load: async () => (await import('./ws.js')).ws },
  { scheme: 'wss', load: async () => (await import('./ws.js')).wss },
  { scheme: 'ws-listen', aliases: ['ws-l'], load: async () => (await import('./ws-listen.js')).wsListen },
];

/** The row a scheme name or alias (any case) names, if any. */
export function findScheme(name: string): Scheme | undefined {
  const s = name.toLowerCase();
  return SCHEMES.find((e) => e.scheme === s || e.aliases?.includes(s));
}

/** Every name an address may start with: schemes and aliases. */
export const schemeNames = (): string[] => SCHEMES.flatMap((s) => [s.scheme, ...(s.aliases ?? [])]);

/**
 * Parses the addresses of a command line as registry.ts's parseEndpoint does, loading only
 * the types they name; an unknown scheme is left to the registry, whose error lists them all.
 */
export async function parseAddresses(uris: readonly string[]): Promise<Endpoint[]> {
  const out: Endpoint[] = [];
  for (const uri of uris) {
    const raw = splitAddress(uri);
    const known = findScheme(raw.scheme);
    out.push(known ? parseAs(await known.load(), uri, raw) : (await import('./registry.js')).parseEndpoint(uri));
  }
  return out;
}

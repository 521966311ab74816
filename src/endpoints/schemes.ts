// The schemes by name, each loading its endpoint type's module only when an address names it: a route's start loads the types it uses, not all sixteen (bench/results-binary.md).
import type { Endpoint, EndpointType } from '../core/endpoint.js';
import { splitAddress } from '../uri.js';
import { parseAs } from './parse-address.js';

interface Scheme {
  scheme: string;
  aliases?: readonly string[];
  load: () => Promise<EndpointType>;
}

/** The same names as registry.ts's types (a unit test holds the two together). */
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

/**
 * Parses the addresses of a command line as registry.ts's parseEndpoint does, loading only
 * the types they name; an unknown scheme is left to the registry, whose error lists them all.
 */
export async function parseAddresses(uris: readonly string[]): Promise<Endpoint[]> {
  const out: Endpoint[] = [];
  for (const uri of uris) {
    const raw = splitAddress(uri);
    const s = raw.scheme.toLowerCase();
    const known = SCHEMES.find((e) => e.scheme === s || e.aliases?.includes(s));
    out.push(known ? parseAs(await known.load(), uri, raw) : (await import('./registry.js')).parseEndpoint(uri));
  }
  return out;
}

// Who may use a ws-listen server: the Host allow-list (DNS rebinding), the browser Origin check, and the token (Bearer, session cookie or ?token=).
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import net from 'node:net';
import { hostname } from 'node:os';
import { EndpointError, UsageError } from '../errors.js';
import { quoteUri } from '../uri.js';

/** The environment variable that gives every ws-listen of the process its token (kept out of `ps`). */
export const TOKEN_ENV = 'PTYBRIDGE_TOKEN';

/** The auth part of a server's settings: fixed when it starts, the same for every route on it. */
export interface AuthOptions {
  /** The token itself, or `none`: no token at all. */
  token?: string;
  'token-file'?: string;
  /** Comma-separated browser origins allowed besides the server's own, or `*`. */
  origin?: string;
  /** Comma-separated Host names allowed besides loopback names and the bound address, or `*`. */
  'allowed-hosts'?: string;
}

/** Where a server's token came from; `none` means the route is open to anyone who reaches it. */
export type TokenSource = 'uri' | 'file' | 'env' | 'generated' | 'none';

/** A fresh random token (192 bits), for a listener that was given none. */
export function generateToken(): string {
  return randomBytes(24).toString('base64url');
}

/**
 * The token a server uses: `?token=` (`none` turns it off), else the first line of
 * `?token-file=`, else $PTYBRIDGE_TOKEN, else a generated one that the caller prints.
 */
export async function resolveToken(o: AuthOptions, uri: string, env: NodeJS.ProcessEnv = process.env): Promise<{ token: string | undefined; source: TokenSource }> {
  if (o.token === 'none') return { token: undefined, source: 'none' };
  if (o.token !== undefined) return { token: o.token, source: 'uri' };
  let token: string | undefined;
  let source: TokenSource = 'generated';
  if (o['token-file'] !== undefined) {
    token = await readTokenFile(o['token-file'], uri);
    source = 'file';
  } else if (env[TOKEN_ENV] !== undefined && env[TOKEN_ENV] !== '') {
    token = env[TOKEN_ENV]!.trim();
    source = 'env';
  }
  if (token === 'none') throw new UsageError(`${quoteUri(uri)}: the token "none" turns the token off only when written on the address (?token=none)`);
  return token === undefined ? { token: generateToken(), source } : { token, source };
}

/** The first line of a token file (ws-listen's and ws:'s ?token-file=), trimmed; refused when empty. */
export async function readTokenFile(file: string, uri: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new EndpointError(`${quoteUri(uri)}: token-file=${file}`, err);
  }
  const token = text.split('\n')[0]!.trim();
  if (token === '') throw new UsageError(`${quoteUri(uri)}: token-file=${file} is empty: expected the token on its first line`);
  return token;
}

/** Compares in constant time; hashing first makes the lengths equal and hides them. */
export function tokenMatches(given: string | undefined, expected: string): boolean {
  if (given === undefined) return false;
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

/**
 * The session cookie's name. Cookies are not scoped by port, so the name carries it: two
 * servers on one host do not overwrite each other's session.
 */
export const cookieName = (port: number) => `ptybridge_session_${port}`;

/** The value of one cookie in a request, undefined when absent. */
function cookieOf(req: IncomingMessage, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

const list = (text: string | undefined) => (text ?? '').split(',').map((s) => s.trim().toLowerCase().replace(/\/$/, '')).filter(Boolean);

/** A request let in: `role` is what the peer may do (today one role, `full`), `via` how it proved it. */
export interface Admitted {
  ok: true;
  role: 'full';
  via: 'open' | 'bearer' | 'query' | 'cookie';
  /** Set on the HTTP answer when the token came in the URL: the browser's session from then on. */
  setCookie?: string;
}

/** What `authenticate` decided. */
export type AuthResult = Admitted | { ok: false; status: 401 | 403; why: string };

/**
 * One server's gate. Every request and upgrade goes through `authenticate`: Host first (a
 * page on a rebound name must not get in, token or not), then Origin, then the credential.
 */
export class Gate {
  /** Per process: a session cookie is worth nothing to another server, or after a restart. */
  private readonly secret = randomBytes(32);
  private readonly origins: string[];
  private readonly hosts: string[];
  private port = 0;
  private session = '';
  private readonly names = new Set(['localhost']);

  constructor(
    private readonly token: string | undefined,
    o: AuthOptions,
    private readonly tls: boolean,
    bindHost: string,
  ) {
    this.origins = list(o.origin);
    this.hosts = list(o['allowed-hosts']).map((h) => h.replace(/:\d+$/, '')); // the port is not part of the check
    // A name the user bound explicitly is theirs; a wildcard bind is reached by this machine's name.
    if (!net.isIP(bindHost)) this.names.add(bindHost.toLowerCase());
  }

  /** Learns the address really bound (port 0, a name, a wildcard): the Host check and the cookie depend on it. */
  bound(address: net.AddressInfo): void {
    this.port = address.port;
    if (address.address === '0.0.0.0' || address.address === '::') this.names.add(hostname().toLowerCase());
    if (this.token !== undefined) this.session = createHmac('sha256', this.secret).update(`${address.port}\n${this.token}`).digest('base64url');
  }

  /** True when the server asks for a token (not `?token=none`). */
  get needsToken(): boolean {
    return this.token !== undefined;
  }

  /**
   * DNS rebinding: a page on attacker.example, resolved to 127.0.0.1, is same-origin with
   * this server and sends `Host: attacker.example`. IP literals cannot be rebound, nor can
   * `localhost` and `*.localhost` (browsers resolve them to loopback themselves).
   */
  hostAllowed(req: IncomingMessage): boolean {
    const host = req.headers.host;
    if (host === undefined) return true; // not a browser: browsers always send Host
    if (this.hosts.includes('*')) return true;
    let name: string;
    try {
      name = new URL(`http://${host}`).hostname.replace(/^\[(.*)\]$/, '$1').replace(/\.$/, '');
    } catch {
      return false;
    }
    if (net.isIP(name) || name === 'localhost' || name.endsWith('.localhost') || this.names.has(name)) return true;
    return this.hosts.some((h) => h === name || (h.startsWith('.') && (name.endsWith(h) || name === h.slice(1))));
  }

  /**
   * A browser always sends Origin with a WebSocket upgrade; a page of another site must not
   * drive the terminal (cross-site WebSocket hijacking). Allowed: no Origin (not a browser),
   * an Origin on the list (`*`: any), or this server itself: same scheme, same Host.
   */
  originAllowed(req: IncomingMessage): boolean {
    const origin = req.headers.origin;
    if (origin === undefined) return true;
    if (this.origins.includes('*')) return true;
    const normal = origin.toLowerCase().replace(/\/$/, '');
    if (this.origins.includes(normal)) return true;
    const scheme = this.tls ? 'https:' : 'http:';
    try {
      const o = new URL(origin);
      return o.protocol === scheme && o.host === new URL(`${scheme}//${req.headers.host ?? ''}`).host;
    } catch {
      return false;
    }
  }

  /**
   * Host, Origin, then any credential the request carries: `Authorization: Bearer`,
   * `?token=` on the URL, or the session cookie that a page opened with `?token=` got.
   */
  authenticate(req: IncomingMessage, url: URL): AuthResult {
    if (!this.hostAllowed(req)) return { ok: false, status: 403, why: 'host not allowed (see ?allowed-hosts=)' };
    if (!this.originAllowed(req)) return { ok: false, status: 403, why: 'origin not allowed' };
    if (this.token === undefined) return { ok: true, role: 'full', via: 'open' };
    const auth = req.headers.authorization;
    if (auth && /^bearer\s+/i.test(auth) && tokenMatches(auth.replace(/^bearer\s+/i, '').trim(), this.token)) return { ok: true, role: 'full', via: 'bearer' };
    const fromQuery = url.searchParams.get('token');
    if (fromQuery !== null && tokenMatches(fromQuery, this.token)) return { ok: true, role: 'full', via: 'query', setCookie: this.sessionCookie() };
    if (tokenMatches(cookieOf(req, cookieName(this.port)), this.session)) return { ok: true, role: 'full', via: 'cookie' };
    return { ok: false, status: 401, why: 'token required' };
  }

  /** The Set-Cookie header that lets the page's later requests and its socket in without the token. */
  private sessionCookie(): string {
    return `${cookieName(this.port)}=${this.session}; Path=/; HttpOnly; SameSite=Strict${this.tls ? '; Secure' : ''}`;
  }
}

/** The URL of a request as logs may show it: the path only (a token may hide in the query under any spelling). */
export function loggablePath(url: string | undefined): string {
  try {
    return new URL(url ?? '/', 'http://x').pathname;
  } catch {
    return '(bad URL)';
  }
}

/** A URI with any `token=` value hidden, however its key is spelled (`%74oken=`), for messages about the command line. */
export function redactUrl(url: string | undefined): string {
  return (url ?? '').replace(/([?&])([^=&?]*)=([^&]*)/g, (all, sep: string, key: string) => {
    let name = key;
    try {
      name = decodeURIComponent(key);
    } catch {
      // left as written
    }
    return name.toLowerCase() === 'token' ? `${sep}${key}=…` : all;
  });
}

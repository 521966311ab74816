// Who may use a ws-listen server: the Host allow-list (DNS rebinding), the browser Origin check, and the token (Bearer, the page's subprotocol, or ?token=).
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import net from 'node:net';
import { hostname } from 'node:os';
import { EndpointError, UsageError } from '../errors.js';
import { percentDecode, quoteUri, redactSecrets } from '../uri.js';
import type { TLSSocket } from 'node:tls';
import { identify } from './client-certs.js';
import { normalAddress, parseTrustProxy, proxyUser, type User, type UsersFile } from './users.js';
import type { Role } from '../core/roles.js';

/** What a presented token turned out to be: the server's token, its view token, or a user's. */
type Credential = { kind: 'full' } | { kind: 'view' } | { kind: 'user'; user: User };

import { envToken, TOKEN_ENV } from '../env-token.js';
export { TOKEN_ENV };

/** The auth part of a server's settings: fixed when it starts, the same for every route on it. */
export interface AuthOptions {
  /** The token itself, or `none`: no token at all. */
  token?: string;
  'token-file'?: string;
  /** Comma-separated browser origins allowed besides the server's own, or `*`. */
  origin?: string;
  /** Comma-separated Host names allowed besides loopback names and the bound address, or `*`. */
  'allowed-hosts'?: string;
  /** A second token whose peers watch and never type. */
  'view-token'?: string;
  /** A users file: a name and a role per token (see src/web/users.ts). */
  users?: string;
  /**
   * Comma-separated addresses of reverse proxies: their `user-header` names the peer, and
   * their X-Forwarded-Host/-Proto say which host and scheme the browser used (Host and Origin checks, Secure cookie).
   */
  'trust-proxy'?: string;
  'user-header'?: string;
}

/**
 * Whether a Host header may be believed (DNS rebinding): a page on attacker.example, resolved
 * to 127.0.0.1, is same-origin with this server and sends `Host: attacker.example`. IP
 * literals cannot be rebound, nor can `localhost` and `*.localhost` (browsers resolve them to
 * loopback themselves); `names` are the server's own, `allowed` the operator's list (`*`: any,
 * `.example.com`: its subdomains). No Host at all: not a browser.
 */
export function hostAllowed(host: string | undefined, names: ReadonlySet<string>, allowed: readonly string[] = []): boolean {
  if (host === undefined) return true;
  if (allowed.includes('*')) return true;
  let name: string;
  try {
    name = new URL(`http://${host}`).hostname.replace(/^\[(.*)\]$/, '$1').replace(/\.$/, '');
  } catch {
    return false;
  }
  if (net.isIP(name) || name === 'localhost' || name.endsWith('.localhost') || names.has(name)) return true;
  return allowed.some((h) => h === name || (h.startsWith('.') && (name.endsWith(h) || name === h.slice(1))));
}

/** Where a server's token came from; `none` means the route is open to anyone who reaches it. */
export type TokenSource = 'uri' | 'file' | 'env' | 'generated' | 'none';

/** A fresh random token (192 bits), for a door that was given none. */
export function generateToken(): string {
  return randomBytes(24).toString('base64url');
}

/**
 * The token a server uses: `?token=` (`none` turns it off), else the first line of
 * `?token-file=`, else $PTYBRIDGE_TOKEN, else a generated one that the caller prints.
 */
export async function resolveToken(
  o: AuthOptions,
  uri: string,
  env: string | undefined = envToken(),
): Promise<{ token: string | undefined; source: TokenSource }> {
  if (o.token === 'none') return { token: undefined, source: 'none' };
  // `?token=$TOKEN` with the variable unset must not open the door to whoever presents nothing.
  if (o.token !== undefined) return { token: nonBlank(o.token, `${quoteUri(uri)}: token=`), source: 'uri' };
  let token: string | undefined;
  let source: TokenSource = 'generated';
  if (o['token-file'] !== undefined) {
    token = await readTokenFile(o['token-file'], uri);
    source = 'file';
  } else if (env !== undefined) {
    token = nonBlank(env, `${quoteUri(uri)}: $${TOKEN_ENV}`);
    source = 'env';
  }
  if (token === 'none') throw new UsageError(`${quoteUri(uri)}: the token "none" turns the token off only when written on the address (?token=none)`);
  return token === undefined ? { token: generateToken(), source } : { token, source };
}

/** A token trimmed, refused (exit 2) when nothing is left: an empty secret is no secret. */
export function nonBlank(token: string, where: string): string {
  const t = token.trim();
  if (t === '')
    throw new UsageError(`${where} is ${token === '' ? 'empty' : 'blank'}: expected a secret (or ?token=none to open the route to anyone, on purpose)`);
  return t;
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
 * The request's `?token=`, decoded as addresses are (src/uri.ts): a `+` stays a plus, as in
 * the token the server was given (URLSearchParams would make it a space); any spelling of
 * the key (`%74oken=`) counts, as URLs decode keys.
 */
function queryToken(url: URL): string | null {
  for (const part of url.search.slice(1).split('&')) {
    const eq = part.indexOf('=');
    if (eq < 0 || percentDecode(part.slice(0, eq)) !== 'token') continue;
    const value = part.slice(eq + 1);
    return percentDecode(value) ?? value;
  }
  return null;
}

/**
 * The page presents its token as a WebSocket subprotocol (`ptybridge-token.BASE64URL`),
 * the one request header a browser lets a page set on a socket: no URL (proxy access logs),
 * no cookie (cookies go to every port of the host).
 */
export const TOKEN_PROTOCOL_PREFIX = 'ptybridge-token.';

/** The subprotocol the server answers a page with: plain framing, JSON controls. */
export const PAGE_PROTOCOL = 'ptybridge';

function protocolToken(req: IncomingMessage): string | undefined {
  for (const p of String(req.headers['sec-websocket-protocol'] ?? '').split(',')) {
    const v = p.trim();
    if (v.startsWith(TOKEN_PROTOCOL_PREFIX)) return Buffer.from(v.slice(TOKEN_PROTOCOL_PREFIX.length), 'base64url').toString('utf8');
  }
  return undefined;
}

const list = (text: string | undefined) =>
  (text ?? '')
    .split(',')
    .map((s) => s.trim().toLowerCase().replace(/\/$/, ''))
    .filter(Boolean);

/** A request let in: `role` is what the peer may do (`full` types, `view` watches), `via` how it proved it. */
export interface Admitted {
  ok: true;
  role: Role;
  /** The peer's name: from the users file, else from a trusted proxy's header. */
  user?: string;
  /** The users-file entry that let it in: a SIGHUP that removes or changes it ends the peer's connection. */
  account?: User;
  via: 'open' | 'bearer' | 'query' | 'protocol' | 'certificate';
}

/** What `authenticate` decided. */
export type AuthResult = Admitted | { ok: false; status: 401 | 403; why: string };

/**
 * One server's gate. Every request and upgrade goes through `authenticate`: Host first (a
 * page on a rebound name must not get in, token or not), then Origin, then the credential.
 */
export class Gate {
  private readonly origins: string[];
  private readonly hosts: string[];
  private readonly names = new Set(['localhost']);
  private readonly viewToken: string | undefined;
  private readonly users: UsersFile | undefined;
  private readonly open: boolean;
  private readonly trusted: string[];
  /** Undefined: no header names a peer (only `?user-header=` makes one believed). */
  private readonly userHeader: string | undefined;
  private readonly certificates: boolean;

  /**
   * `token` undefined: no server token (`?token=none`, or a users file alone); `extra.open`
   * says whether anyone then gets in (default: when there is no token and no users file).
   */
  constructor(
    private token: string | undefined,
    o: AuthOptions,
    private readonly tls: boolean,
    bindHost: string,
    extra: { users?: UsersFile; open?: boolean; certificates?: boolean } = {},
  ) {
    this.origins = list(o.origin);
    this.hosts = list(o['allowed-hosts']).map((h) => h.replace(/:\d+$/, '')); // the port is not part of the check
    // A name the user bound explicitly is theirs; a wildcard bind is reached by this machine's name.
    if (!net.isIP(bindHost)) this.names.add(bindHost.toLowerCase());
    this.viewToken = o['view-token'];
    this.users = extra.users;
    this.open = extra.open ?? (token === undefined && extra.users === undefined);
    this.trusted = parseTrustProxy(o['trust-proxy'], 'ws-listen');
    // Never a default: a proxy that passes the client's own X-Forwarded-User through would let
    // anyone type under any name in the audit transcript.
    this.userHeader = o['user-header']?.toLowerCase();
    this.certificates = extra.certificates ?? false;
  }

  /** Learns the address really bound (a wildcard is reached by this machine's name): the Host check depends on it. */
  bound(address: net.AddressInfo): void {
    if (address.address === '0.0.0.0' || address.address === '::') this.names.add(hostname().toLowerCase());
  }

  /** A new server token (the token file rewritten, then SIGHUP): from now on only it is accepted. */
  replaceToken(token: string): void {
    this.token = token;
  }

  /** True when the server asks for a token (not `?token=none`). */
  get needsToken(): boolean {
    return !this.open;
  }

  /**
   * The host and scheme the browser used. A trusted proxy says them in X-Forwarded-Host and
   * X-Forwarded-Proto (nginx's usual `proxy_set_header Host $host` drops the port, and TLS
   * ends at the proxy); from anyone else those headers are ignored, so direct access is
   * checked exactly as without a proxy.
   */
  front(req: IncomingMessage): { host: string | undefined; scheme: 'http:' | 'https:' } {
    const own = { host: req.headers.host, scheme: this.tls ? 'https:' : 'http:' } as const;
    if (!this.trusted.length || !this.trusted.includes(normalAddress(req.socket.remoteAddress ?? ''))) return own;
    // A chain of proxies appends: the first value is what the browser sent to the first.
    const first = (h: string | string[] | undefined) => (typeof h === 'string' ? h.split(',')[0]!.trim() : undefined) || undefined;
    const proto = first(req.headers['x-forwarded-proto'])?.toLowerCase();
    return {
      host: first(req.headers['x-forwarded-host']) ?? own.host,
      scheme: proto === 'https' ? 'https:' : proto === 'http' ? 'http:' : own.scheme,
    };
  }

  /**
   * DNS rebinding: a page on attacker.example, resolved to 127.0.0.1, is same-origin with
   * this server and sends `Host: attacker.example`. IP literals cannot be rebound, nor can
   * `localhost` and `*.localhost` (browsers resolve them to loopback themselves).
   */
  hostAllowed(req: IncomingMessage): boolean {
    return hostAllowed(this.front(req).host, this.names, this.hosts);
  }

  /**
   * A browser always sends Origin with a WebSocket upgrade; a page of another site must not
   * drive the terminal (cross-site WebSocket hijacking). Allowed: no Origin (not a browser),
   * an Origin on the list (`*`: any), or this server itself as the browser reached it: same
   * scheme, same host and port (behind a trusted proxy, the proxy's).
   */
  originAllowed(req: IncomingMessage): boolean {
    const origin = req.headers.origin;
    if (origin === undefined) return true;
    if (this.origins.includes('*')) return true;
    const normal = origin.toLowerCase().replace(/\/$/, '');
    if (this.origins.includes(normal)) return true;
    const { host, scheme } = this.front(req);
    try {
      const o = new URL(origin);
      return o.protocol === scheme && o.host === new URL(`${scheme}//${host ?? ''}`).host;
    } catch {
      return false;
    }
  }

  /**
   * Host, Origin, then any credential the request carries: `Authorization: Bearer`,
   * the page's subprotocol (`ptybridge-token.…`), or `?token=` on the URL. The
   * credential decides the role: the token types, the view token and `view` users watch.
   */
  authenticate(req: IncomingMessage, url: URL): AuthResult {
    if (!this.hostAllowed(req)) return { ok: false, status: 403, why: 'host not allowed (see ?allowed-hosts=)' };
    if (!this.originAllowed(req)) return { ok: false, status: 403, why: 'origin not allowed' };
    if (this.certificates) {
      // ?client-ca=: the certificate of the TLS connection is the credential, on every request.
      const v = identify(req.socket as TLSSocket, this.users);
      return v.ok
        ? {
            ok: true,
            role: v.role ?? 'full',
            ...(v.user !== undefined ? { user: v.user } : {}),
            ...(v.account ? { account: v.account } : {}),
            via: 'certificate',
          }
        : { ok: false, status: 403, why: v.why };
    }
    const admitted = this.credentialOf(req, url);
    if (admitted) return this.named(req, admitted);
    if (this.open) return this.named(req, { ok: true, role: 'full', via: 'open' });
    // Told apart: a mistyped or rotated token is not the same trouble as a forgotten one.
    return { ok: false, status: 401, why: this.presented(req, url) ? 'wrong token' : 'token required' };
  }

  /** Whether the request carries a token at all (right or wrong). */
  private presented(req: IncomingMessage, url: URL): boolean {
    return /^bearer\s+/i.test(req.headers.authorization ?? '') || protocolToken(req) !== undefined || queryToken(url) !== null;
  }

  /** The trusted proxy's name for a peer the credential did not name; a header from anyone else is ignored. */
  private named(req: IncomingMessage, a: Admitted): Admitted {
    if (a.user !== undefined || !this.trusted.length || this.userHeader === undefined) return a;
    const user = proxyUser(this.trusted, req.socket.remoteAddress, req.headers[this.userHeader]);
    return user === undefined ? a : { ...a, user };
  }

  /**
   * No cookie: the page keeps its token in sessionStorage (per origin, so per port) and
   * presents it itself; a cookie would be sent, and readable, to every port of the host.
   */
  private credentialOf(req: IncomingMessage, url: URL): Admitted | undefined {
    const auth = req.headers.authorization;
    if (auth && /^bearer\s+/i.test(auth)) {
      const c = this.match(auth.replace(/^bearer\s+/i, '').trim());
      if (c) return this.admit(c, 'bearer');
    }
    const fromProtocol = protocolToken(req);
    if (fromProtocol !== undefined) {
      const c = this.match(fromProtocol);
      if (c) return this.admit(c, 'protocol');
    }
    // websockify clients (noVNC's path=websockify?token=…) and old bookmarks present it here.
    const fromQuery = queryToken(url);
    const c = fromQuery === null ? undefined : this.match(fromQuery);
    return c && this.admit(c, 'query');
  }

  private admit(c: Credential, via: Admitted['via']): Admitted {
    if (c.kind === 'user') return { ok: true, role: c.user.role, user: c.user.name, account: c.user, via };
    return { ok: true, role: c.kind, via };
  }

  /** Every credential is compared (constant time each), whatever matched first. */
  private match(given: string): Credential | undefined {
    const full = this.token !== undefined && tokenMatches(given, this.token);
    const view = this.viewToken !== undefined && tokenMatches(given, this.viewToken);
    const user = this.users?.match(given);
    if (full) return { kind: 'full' };
    if (view) return { kind: 'view' };
    return user && { kind: 'user', user };
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

/** A URI with any `token=` or `view-token=` value hidden, however its key is spelled (`%74oken=`), for messages about the command line. */
export function redactUrl(url: string | undefined): string {
  return redactSecrets(url ?? '');
}

/**
 * Who a peer is, as far as resuming a per-peer session goes (src/router/sessions.ts): a digest
 * of the credential it was let in with (the token, the view token, or a user of the users file
 * as that user is now), so that a session made with one is never given to another.
 */
export function credentialOf(a: Admitted): string {
  const who = a.account ? `user\n${a.account.name}\n${a.account.role}\n${a.account.hash.toString('hex')}` : `${a.role}\n${a.user ?? ''}`;
  return createHash('sha256').update(`ptybridge-session\n${who}`).digest('hex');
}

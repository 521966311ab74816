// One HTTP(S) server per ws-listen address, shared by every route that names it: each route mounts its own WebSocket path, and `/` lists them.
import { lstatSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import type net from 'node:net';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import type { WebSocket, WebSocketServer } from 'ws';
import { EndpointError, UsageError } from '../errors.js';
import type { Listener, RouteStatus } from '../core/link.js';
import { logAlways, type Logger } from '../log.js';
import { formatHostPort, quoteUri } from '../uri.js';
import { Gate, loggablePath, readTokenFile, resolveToken, type Admitted, type AuthOptions, type AuthResult } from './auth.js';
import { answer, ASSET_DIR, PAGE_HEADERS, serveFavicon, serveStatic, serveTerminal } from './http.js';
import { serveConsolesJson, serveIndex } from './index-page.js';
import { consoleJson, type ConsoleJson } from './index-rows.js';
import { RefusalLimit } from './refusals.js';
import { UsersFile } from './users.js';
import { askForCertificates } from './client-certs.js';
import { serveConsoleApi } from './console-api.js';
import type { ConsoleApi } from '../core/console-api.js';

/**
 * What the server is, and who may use it: fixed by the first route on the address. Every
 * other route there must say the same, so that one route cannot open another's console
 * with a weaker token or origin list.
 */
export interface ServerSettings extends AuthOptions {
  host: string;
  port: number;
  defaultedHost: boolean;
  cert?: string;
  key?: string;
  /** Client certificates signed by this CA are the credential (src/router/client-certs.ts). */
  'client-ca'?: string;
  'header-timeout': number;
  static?: string;
  dotfiles?: boolean;
}
const SHARED_KEYS = [
  'token',
  'token-file',
  'view-token',
  'users',
  'trust-proxy',
  'user-header',
  'origin',
  'allowed-hosts',
  'cert',
  'key',
  'client-ca',
  'header-timeout',
  'static',
  'dotfiles',
] as const;

/** One route's WebSocket path on a server. */
export interface MountSpec {
  /** The route's address, token redacted, for messages. */
  uri: string;
  /** Undefined: every path (the address is this route's alone). */
  path: string | undefined;
  web: boolean;
  /** Most peers at once on this path (0: no limit). */
  max: number;
  wss: WebSocketServer;
  log: Logger;
  name?: string;
  status?: () => RouteStatus;
  /** The shared console behind this path, for /api/consoles/NAME/… (a hub's door only). */
  api?: ConsoleApi;
  /** A peer in, with what `Gate.authenticate` found (its role: what it may do). */
  onPeer(ws: WebSocket, req: http.IncomingMessage, auth: Admitted): void;
}

interface Mount extends MountSpec {
  /** Each peer, with the users-file entry that let it in (if any). */
  clients: Map<WebSocket, Admitted>;
  /** Called when the last client of a mount that is closing has gone. */
  onEmpty?: () => void;
}

/** A route on a ws-listen address, as far as sharing the address goes. */
export interface Sharer {
  uri: string;
  path: string | undefined;
  settings: ServerSettings;
}

/**
 * Why `added` cannot join `existing` on the address `addr`, or undefined when it can: used
 * when a route mounts, and by the config file's check before anything opens.
 */
export function cannotShare(existing: Sharer, added: Sharer, addr: string): string | undefined {
  // Called for every pair of routes on an address (a thousand consoles: half a million
  // times), so the message is only built when there is one to give.
  const uri = () => quoteUri(added.uri);
  if (existing.path === undefined || added.path === undefined) {
    return `${uri()}: ${addr} is also served by ${quoteUri(existing.uri)}; routes that share an address each need their own path, such as ws-listen:${added.settings.port}/console/NAME`;
  }
  if (existing.path === added.path) return `${uri()}: path ${added.path} on ${addr} is already served by ${quoteUri(existing.uri)}`;
  const k = SHARED_KEYS.find((key) => existing.settings[key] !== added.settings[key]);
  if (k)
    return `${uri()}: ${k}= differs from ${quoteUri(existing.uri)}, which also serves ${addr}; routes that share an address share its ${SHARED_KEYS.join(', ')}`;
  return undefined;
}

/** The key of an address in the registry; a port 0 door is never shared. */
export const shareKey = (s: ServerSettings): string | undefined => (s.port === 0 ? undefined : formatHostPort(s.host, s.port));

/** Live servers by "host:port"; a port 0 door is never shared (each gets its own port). */
const servers = new Map<string, Promise<WebServer>>();

/**
 * Mounts a route's path on the server for its address, creating (binding) the server if it
 * is the first. Refuses (UsageError) a second route on an address when either has no path,
 * when the paths collide, or when the routes disagree on the server's settings.
 */
export async function mount(settings: ServerSettings, spec: MountSpec): Promise<Listener> {
  const key = shareKey(settings);
  let pending = key === undefined ? undefined : servers.get(key);
  if (!pending) {
    pending = WebServer.create(settings, spec);
    if (key !== undefined) {
      servers.set(key, pending);
      pending.catch(() => servers.delete(key));
    }
  }
  const server = await pending;
  server.check(settings, spec);
  return server.attach(spec, () => {
    if (key !== undefined && servers.get(key) === pending) servers.delete(key);
  });
}

/** Whether ?static= holds noVNC (its vnc.html, a plain file: serveStatic follows no symlink below the root). */
function holdsNoVnc(dir: string | undefined): boolean {
  try {
    return dir !== undefined && lstatSync(join(dir, 'vnc.html')).isFile();
  } catch {
    return false;
  }
}

/** noVNC's page for a WebSocket path: its `path=` is the socket's, relative to the server's root, and may carry `?token=`. */
export function noVncQuery(wsPath: string | undefined, token?: string): string {
  const path = (wsPath ?? '/websockify').slice(1);
  return `path=${encodeURIComponent(token === undefined ? path : `${path}?token=${token}`)}&autoconnect=true`;
}

/** A page's Origin as the hint to add it (?origin=), printable and short: the header is the peer's to write. */
const originShown = (o: string | string[] | undefined) =>
  String(o ?? '')
    .toLowerCase()
    .replace(/\/$/, '')
    .replace(/[^\x21-\x7e]/g, '?')
    .slice(0, 200);

class WebServer {
  private readonly mounts = new Map<string, Mount>();
  private address!: net.AddressInfo;
  /** ?static= holds noVNC: its consoles are VNC screens, opened by vnc.html, never a terminal page. */
  private readonly novnc: boolean;
  /** When each refused Origin was last said at the default level (a page retrying must not flood the log). */
  private readonly originsSaid = new Map<string, number>();

  private constructor(
    private readonly server: http.Server,
    private readonly settings: ServerSettings,
    private readonly gate: Gate,
    private readonly tls: boolean,
    private readonly firstUri: string,
    private readonly log: Logger,
    private readonly users: UsersFile | undefined,
  ) {
    server.on('request', (req, res) => this.request(req, res));
    server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => this.upgrade(req, socket, head));
    this.novnc = holdsNoVnc(settings.static);
  }

  static async create(settings: ServerSettings, first: MountSpec): Promise<WebServer> {
    const { uri, log } = first;
    let server: http.Server;
    const tls = settings.cert !== undefined;
    try {
      // Node's defaults let a peer trickle request headers for 60 s, checked every 30 s: a
      // slowloris holds a socket for up to 90 s. Ours cut it after ?header-timeout.
      const ht = settings['header-timeout'];
      const limits: http.ServerOptions = ht > 0 ? { headersTimeout: ht, requestTimeout: ht, connectionsCheckingInterval: Math.min(1000, ht) } : {};
      const clientCa = settings['client-ca'] === undefined ? {} : askForCertificates(await readFile(settings['client-ca']));
      server = tls
        ? https.createServer({ ...limits, cert: await readFile(settings.cert!), key: await readFile(settings.key!), ...clientCa })
        : http.createServer(limits);
    } catch (err) {
      throw new EndpointError(uri, err);
    }
    const { host, port } = settings;
    const certificates = settings['client-ca'] !== undefined;
    // With client certificates the certificate is the credential: no token is looked for or generated.
    const resolved = certificates ? { token: undefined, source: 'none' as const } : await resolveToken(settings, uri);
    const { source } = resolved;
    // With a users file every peer can be named by its own token: none is generated besides.
    const token = source === 'generated' && settings.users !== undefined ? undefined : resolved.token;
    const users = settings.users === undefined ? undefined : new UsersFile(settings.users, log, uri);
    const gate = new Gate(token, settings, tls, host, { users, open: source === 'none' && !certificates, certificates });
    const web = new WebServer(server, settings, gate, tls, uri, log, users);
    if (users) users.onReload = () => web.revoke();
    if (source === 'file' && token !== undefined) web.followTokenFile(settings['token-file']!, token);
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err) => {
        users?.close();
        reject(new EndpointError(uri, err));
      });
      server.listen({ host, port }, () => resolve());
    });
    server.on('error', (err) => log.error(`${uri}: ${err.message}`));
    server.on('tlsClientError', (err) => log.debug(`${uri}: TLS: ${err.message}`));
    const a = (web.address = server.address() as net.AddressInfo);
    gate.bound(a);
    if (settings.defaultedHost)
      log.warn(`${uri}: bound to loopback only; write ws-listen:0.0.0.0:${a.port} to accept other machines`, { event: 'loopback-only', port: a.port });
    const shown = a.address === '0.0.0.0' || a.address === '::' ? hostname() : a.address;
    // With ?static the files are the point, not the socket's path: noVNC's vnc.html, told
    // where the socket is and given the token in its `path=`; else the directory's index.
    const base = `${tls ? 'https' : 'http'}://${formatHostPort(shown, a.port)}`;
    const where = web.novnc ? `${base}/vnc.html` : `${base}${settings.static === undefined ? (first.path ?? '/') : '/'}`;
    if (source === 'generated' && token !== undefined) {
      // The terminal page takes its token from the fragment, which no server or proxy log sees; noVNC reads its path= from the query.
      const url = web.novnc ? `${where}?token=${token}&${noVncQuery(first.path, token)}` : `${where}#token=${token}`;
      // Printed once, straight to stderr (not a log line that -q would hide): the only copy.
      // Loopback too: other users of this machine reach loopback, and so do rebinding pages.
      logAlways(
        `${uri}: peers need a token (generated; ?token-file= or $PTYBRIDGE_TOKEN to choose it): open ${url}`,
        { event: 'token-generated', url },
        { announcement: true },
      );
    } else if (source === 'none' && !certificates) {
      log.warn(`${uri}: ?token=none: anyone who can reach ${formatHostPort(a.address, a.port)}, every local user included, gets this route without a token`);
    }
    return web;
  }

  /**
   * SIGHUP reads the token file again: a rotated token takes effect without a restart, and
   * the peers let in by the old one are let go (1008), as a removed user's are. A file that
   * became unreadable or empty keeps the token before it, with a log line.
   */
  followTokenFile(file: string, first: string): void {
    let current = first;
    const onHup = () => {
      readTokenFile(file, this.firstUri).then(
        (token) => {
          if (token === current) return;
          current = token;
          this.gate.replaceToken(token);
          this.log.warn(`${this.firstUri}: token-file=${file} changed: the new token is in force; peers let in by the old one are closed`, {
            event: 'token-reloaded',
          });
          for (const m of this.mounts.values()) {
            for (const [ws, auth] of m.clients) if (!auth.account && auth.via !== 'open' && auth.role === 'full') ws.close(1008, 'token changed');
          }
        },
        (err: Error) => this.log.error(`${err.message}; keeping the token read before`, { event: 'token-reload-failed' }),
      );
    };
    process.on('SIGHUP', onHup);
    this.stopFollowing = () => process.off('SIGHUP', onHup);
  }

  private stopFollowing = () => {};

  /** After the users file was read again: a user removed, or given another role or token, is let go (1008). */
  revoke(): void {
    for (const m of this.mounts.values()) {
      for (const [ws, auth] of m.clients) {
        if (!auth.account || this.users!.current(auth.account)) continue;
        m.log.warn(
          `${m.uri}: ${auth.account.name} is no longer in ${this.users!.file} as before (removed, or another role or token); closing their connection`,
        );
        ws.close(1008, 'user removed or changed');
      }
    }
  }

  private get addr(): string {
    return formatHostPort(this.address.address, this.address.port);
  }

  /** Refuses a route that cannot share this server (see `mount`). */
  check(settings: ServerSettings, spec: MountSpec): void {
    // Each mount agreed with the server's settings when it came, so one comparison is
    // enough: with a mount that takes every path, else one on the same path, else any.
    // (A loop over all mounts made a thousand consoles on one port a quadratic start.)
    const m = this.mounts.get('') ?? this.mounts.get(spec.path ?? '') ?? this.mounts.values().next().value;
    const why = m && cannotShare({ uri: m.uri, path: m.path, settings: this.settings }, { uri: spec.uri, path: spec.path, settings }, this.addr);
    if (why) throw new UsageError(why);
  }

  attach(spec: MountSpec, onLastGone: () => void): Listener {
    const m: Mount = { ...spec, clients: new Map() };
    this.mounts.set(spec.path ?? '', m);
    const scheme = this.tls ? 'wss' : 'ws';
    let closing: Promise<void> | undefined;
    return {
      label: `${scheme} ${this.addr}${spec.path ? ` ${spec.path}` : ''}`,
      close: () => (closing ??= this.detach(m, onLastGone)),
    };
  }

  /** Unmounts a path: no new peers there; its peers are given 2.5 s to go, the others keep theirs. */
  private async detach(m: Mount, onLastGone: () => void): Promise<void> {
    this.mounts.delete(m.path ?? '');
    m.wss.close();
    if (m.clients.size) {
      // Joined peers are closed gracefully by the router; any left after that are cut off.
      await new Promise<void>((resolve) => {
        m.onEmpty = resolve;
        setTimeout(() => m.clients.forEach((_auth, ws) => ws.terminate()), 2500).unref();
      });
    }
    if (this.mounts.size > 0) return;
    onLastGone();
    this.users?.close();
    this.stopFollowing();
    await new Promise<void>((done) => {
      this.server.close(() => done());
      this.server.closeIdleConnections();
      setTimeout(() => this.server.closeAllConnections(), 2500).unref();
    });
  }

  private readonly refusals = new RefusalLimit();

  /**
   * Logs a refused request (address, path, reason) at the default level, rate-limited; by
   * its path only: a token may hide in the query under any spelling.
   */
  private refused(req: http.IncomingMessage, m: Mount | undefined, status: number, why: string): void {
    // Built only when said: under a flood of refusals most are not.
    const say = (level: 'info' | 'warn', more = '', extra = {}) =>
      (m?.log ?? this.log)[level](`${m?.uri ?? this.firstUri}: refused ${describePeer(req)} ${loggablePath(req.url)}: ${status} ${why}${more}`, {
        event: 'refused',
        peer: describePeer(req),
        path: loggablePath(req.url),
        status,
        reason: why,
        ...extra,
      });
    if (status === 403 && why === 'origin not allowed') {
      // Said with its remedy once a minute per Origin; the repeats only at -v.
      if (!this.sayOrigin(req, m)) say('info');
      return;
    }
    const hidden = this.refusals.next();
    if (hidden === undefined) return;
    say('warn', hidden ? ` (${hidden} more refused before this, not logged)` : '', hidden ? { notLogged: hidden } : {});
  }

  /**
   * A page served elsewhere (noVNC on another port) is refused by its Origin, and the
   * browser only says "failed to connect": say it at the default level with the option to
   * add, once a minute per Origin. False when it was said lately (then at -v only).
   */
  private sayOrigin(req: http.IncomingMessage, m: Mount | undefined): boolean {
    const origin = originShown(req.headers.origin);
    const now = Date.now();
    if (now - (this.originsSaid.get(origin) ?? -Infinity) < 60_000) return false;
    if (this.originsSaid.size >= 1000) this.originsSaid.clear(); // Origins are the peers' to invent
    this.originsSaid.set(origin, now);
    (m?.log ?? this.log).warn(
      `${m?.uri ?? this.firstUri}: refused a WebSocket from a page at ${origin} (403 origin not allowed); to let pages from there in, add ?origin=${origin}`,
      {
        event: 'refused',
        peer: describePeer(req),
        path: loggablePath(req.url),
        status: 403,
        reason: 'origin not allowed',
        origin,
      },
    );
    return true;
  }

  /**
   * The page, its assets and ?static= files are public (the same bytes for anyone, as
   * websockify --web serves them): the page finds its token in its own storage after a
   * reload, where no credential can come with the request. What is secret needs the token:
   * the WebSocket, the index's rows and consoles.json.
   */
  private request(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = urlOf(req);
    if (url.pathname === '/api/consoles' || url.pathname.startsWith('/api/consoles/')) return this.api(req, res, url);
    if (req.method !== 'GET' && req.method !== 'HEAD') return answer(res, 405, 'method not allowed', { Allow: 'GET, HEAD' });
    const auth: AuthResult = this.gate.authenticate(req, url);
    if (!auth.ok && auth.status !== 401) {
      this.refused(req, undefined, auth.status, auth.why);
      return answer(res, auth.status, auth.why);
    }
    const denied = () => {
      if (auth.ok) return false;
      this.refused(req, undefined, auth.status, auth.why);
      answer(res, 401, auth.why === 'wrong token' ? 'wrong token' : 'token required: open this address with #token=…');
      return true;
    };
    // A wrong token in the URL is told at once, not hidden behind a page that cannot connect.
    if (!auth.ok && auth.why === 'wrong token') return void denied();
    void (async () => {
      if (
        this.settings.static !== undefined &&
        (await serveStatic(req, res, url.pathname, this.settings.static, { dotfiles: this.settings.dotfiles === true, headers: {} }))
      )
        return;
      if (this.novnc && this.toNoVnc(res, url.pathname, {})) return;
      if (this.page(req, res, url.pathname, auth.ok, denied)) return;
      if (serveFavicon(req, res, url.pathname, {})) return;
      if (!denied()) answer(res, 404, 'not found');
    })().catch(() => res.destroy());
  }

  /** /api/consoles/NAME/…: a console by its route name or its path; the same gate as the page. */
  private api(req: http.IncomingMessage, res: http.ServerResponse, url: URL): void {
    const auth: AuthResult = this.gate.authenticate(req, url);
    if (!auth.ok) {
      this.refused(req, undefined, auth.status, auth.why);
      return answer(res, auth.status, auth.status === 401 ? 'token required: Authorization: Bearer TOKEN' : auth.why);
    }
    const find = (name: string) =>
      [...this.mounts.values()].find((m) => m.api && (m.name === name || m.path === `/${name}` || (m.path === undefined && this.mounts.size === 1)))?.api;
    const names = () =>
      [...this.mounts.values()]
        .filter((m) => m.api)
        .map((m) => m.name ?? m.path?.slice(1) ?? '')
        .sort();
    // Each console's last boot (its device's last open), for the list: read from the route's status, no file touched.
    const boots = () => {
      const out: Record<string, string> = {};
      for (const m of this.mounts.values()) {
        const since = m.api ? m.status?.().device?.since : undefined;
        if (since) out[m.name ?? m.path?.slice(1) ?? ''] = new Date(since).toISOString();
      }
      return out;
    };
    const histories = () =>
      [...this.mounts.values()]
        .filter((m) => m.api?.history)
        .map((m) => m.name ?? m.path?.slice(1) ?? '')
        .sort();
    serveConsoleApi(req, res, url, auth, find, names, boots, histories).catch(() => res.destroy());
  }

  /**
   * With noVNC in ?static, a console's page is vnc.html on its socket (302), not a terminal
   * showing `RFB 003.008`: for `/` (one console, or a route on every path) and a console's path.
   */
  private toNoVnc(res: http.ServerResponse, pathname: string, headers: Record<string, string>): boolean {
    const all = this.mounts.get('');
    const m =
      pathname === '/' ? (all ?? (this.mounts.size === 1 ? this.mounts.values().next().value : undefined)) : all ? undefined : this.mounts.get(pathname);
    if (!m) return false;
    // Relative, as every link here is: the tree works under a reverse proxy's prefix.
    const up = '../'.repeat(Math.max(0, pathname.split('/').length - 2));
    res.writeHead(302, { Location: `${up}vnc.html?${noVncQuery(m.path)}`, 'Cache-Control': 'no-store', ...PAGE_HEADERS, ...headers });
    res.end();
    return true;
  }

  /** The terminal page of a path (or of `/` for a route alone on its address), its assets, or the index. */
  private page(req: http.IncomingMessage, res: http.ServerResponse, pathname: string, authorized: boolean, denied: () => boolean): boolean {
    const all = this.mounts.get('');
    if (all) return all.web && serveTerminal(req, res, pathname, undefined, {});
    const here = this.mounts.get(pathname);
    if (here?.web) return serveTerminal(req, res, pathname, pathname, {});
    if (![...this.mounts.values()].some((m) => m.web)) return false;
    if (pathname === '/') {
      // Without the token, the page without its rows: its script asks for them with the token it keeps.
      serveIndex(req, res, authorized ? this.consoles() : [], {});
      return true;
    }
    if (pathname === `/${ASSET_DIR}/consoles.json`) {
      if (!denied()) serveConsolesJson(req, res, this.consoles(), {});
      return true;
    }
    return serveTerminal(req, res, pathname, null, {});
  }

  /** What the index lists: every path, by route name, with its route's live status. */
  private consoles(): ConsoleJson[] {
    return [...this.mounts.values()]
      .map((m) => consoleJson(m.path!, m.name, m.web, m.status?.() ?? { peers: m.clients.size }))
      .sort((a, b) => a.path.localeCompare(b.path));
  }

  private upgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => {});
    const url = urlOf(req);
    const m = this.mounts.get('') ?? this.mounts.get(url.pathname);
    const refuse = (status: number, why: string) => {
      this.refused(req, m, status, why);
      socket.end(
        `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: ${why.length + 1}\r\n\r\n${why}\n`,
      );
    };
    const auth = this.gate.authenticate(req, url);
    if (!auth.ok) return refuse(auth.status, auth.why);
    if (!m) return refuse(404, 'no WebSocket on this path');
    if (m.max > 0 && m.clients.size >= m.max) return refuse(503, 'too many peers');
    m.wss.handleUpgrade(req, socket, head, (ws) => {
      if (this.mounts.get(m.path ?? '') !== m) return ws.terminate(); // unmounted meanwhile
      m.clients.set(ws, auth);
      ws.once('close', () => {
        m.clients.delete(ws);
        if (m.clients.size === 0) m.onEmpty?.();
      });
      m.onPeer(ws, req, auth);
    });
  }
}

const urlOf = (req: http.IncomingMessage) => new URL(req.url ?? '/', 'http://x');

export function describePeer(req: http.IncomingMessage): string {
  return formatHostPort(req.socket.remoteAddress ?? '?', req.socket.remotePort ?? 0);
}

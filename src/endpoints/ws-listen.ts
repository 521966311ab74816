// ws-listen: — a WebSocket server (websockify-compatible) that also serves the browser terminal page.
import type { OptionsOf } from '../core/option-schema.js';
import type http from 'node:http';
import type { WebSocket } from 'ws';
import { UsageError } from '../errors.js';
import { duration, flag, int, size, text, defineOptions } from '../options.js';
import { chooseSubprotocol, CONTROLS_HEADER, framingOf, keepAlive, WsStream } from '../protocols/websockify.js';
import { parseHostPort, quoteUri, quoted, redactSecrets, type HostPort } from '../uri.js';
import type { Admitted } from '../web/auth.js';
import { doorOptions } from './hub-options.js';
import { parseTrustProxy } from '../web/users.js';
import type { KeyboardState } from '../core/roles.js';
import type { ServerSettings } from '../web/server.js';
import type { ListeningType } from '../core/endpoint.js';

export interface WsListenTarget extends HostPort {
  /** Upgrades (and the page) only on this path; any path when undefined. */
  path?: string;
}

const options = defineOptions({
  token: text(
    undefined,
    'secret a peer must present (Authorization: Bearer, or ?token= on the URL; the page opened with #token= keeps it in the tab and presents it on its socket); default: ?token-file=, $PTYBRIDGE_TOKEN, else generated and printed as a URL to open, on loopback too; none: no token, anyone who reaches the port gets the route',
  ),
  'token-file': text(undefined, 'read the token from the first line of this file (keeps it out of ps)', 'a file'),
  'view-token': text(undefined, 'a second token, presented the same ways: its peers watch and never type (compared in constant time, never logged)'),
  users: text(
    undefined,
    "a users file: one line per user, NAME ROLE SHA256 (role full or view; the hex SHA-256 of the user's token); names appear in logs, the index and the transcript; read again on SIGHUP",
    'a file',
  ),
  'trust-proxy': text(
    undefined,
    'comma-separated addresses of reverse proxies (oauth2-proxy, Authelia) whose user-header names the peer; the header from any other address is ignored',
    'IP addresses',
  ),
  'user-header': text(
    undefined,
    "with trust-proxy=: the request header that carries the authenticated user's name, set by the proxy itself (X-Forwarded-User after oauth2-proxy or Authelia); without it no header names a peer",
    'a header name',
  ),
  ...doorOptions,
  origin: text(undefined, 'comma-separated browser origins allowed besides this server itself (same scheme and host), or * for any', 'origins'),
  'allowed-hosts': text(
    undefined,
    "comma-separated Host names a browser may use besides IP addresses, localhost and the bound name (a reverse proxy's name; .example.com: its subdomains too), or * for any",
    'host names',
  ),
  cert: text(undefined, 'TLS certificate file (PEM): serve wss:// and https://', 'a file'),
  key: text(undefined, 'TLS private key file (PEM), with cert=', 'a file'),
  'client-ca': text(
    undefined,
    'with cert=: require a client certificate signed by this CA (PEM) instead of a token; its CN names the peer, and ?users= gives its role (by fingerprint, or "cert" for any certificate of the CA with that name)',
    'a file',
  ),
  max: int(0, 0, 1_000_000, 'most WebSocket peers at once; more are answered 503 (0: no limit)'),
  'header-timeout': duration(10_000, "a peer must send its whole HTTP request (headers) within this long, or it is cut (slowloris; 0: Node's 60 s)", 600_000),
  ping: duration(30_000, 'ping each peer this often and drop it when no pong came back by the next ping (0: off)'),
  'max-frame': size(
    1024 * 1024,
    'largest message a peer may send (at most 64M: a message is held whole in memory); larger ones are closed with 1009',
    64 * 1024 * 1024,
    1,
  ),
  web: flag(true, 'serve the browser terminal page on GET (off: 404)'),
  static: text(undefined, 'serve files from this directory, as websockify --web does (noVNC); symlinks are not followed', 'a directory'),
  dotfiles: flag(false, 'with static=: also serve files and directories whose name starts with a dot'),
});

/** `[host:]port[/path]`: the address as tcp-listen takes it, then an optional path. */
function parseTarget(target: string, uri: string): WsListenTarget {
  const slash = target.indexOf('/');
  const hostPort = slash < 0 ? target : target.slice(0, slash);
  const path = slash < 0 ? undefined : target.slice(slash);
  if (path !== undefined && !/^\/[\x21-\x7e]*$/.test(path)) throw new UsageError(`${quoteUri(uri)}: bad path ${quoted(path)}: expected /path without spaces`);
  return { ...parseHostPort(hostPort, uri, { listening: true }), path: path === '/' ? undefined : path };
}

/** The settings every route on one address must agree on (see src/web/server.ts). */
export function serverSettingsOf(spec: { target: WsListenTarget; options: OptionsOf<typeof options> }): ServerSettings {
  const { host, port, defaultedHost } = spec.target;
  const o = spec.options;
  const settings: ServerSettings = { host, port, defaultedHost, 'header-timeout': o['header-timeout'] };
  for (const k of ['token', 'token-file', 'view-token', 'users', 'trust-proxy', 'origin', 'allowed-hosts', 'cert', 'key', 'client-ca', 'static'] as const)
    if (o[k] !== undefined) settings[k] = o[k];
  if (o['trust-proxy'] !== undefined && o['user-header'] !== undefined) settings['user-header'] = o['user-header'];
  if (o.dotfiles) settings.dotfiles = true;
  return settings;
}

export const wsListen: ListeningType<WsListenTarget, typeof options> = {
  scheme: 'ws-listen',
  role: 'listening',
  summary: 'accept WebSocket peers (websockify binary/base64, noVNC) and serve a browser terminal; a bare port binds 127.0.0.1 only',
  targetForm: '[host:]port[/path]',
  examples: [
    'ptybridge exec:bash ws-listen:8080                        # a terminal: open the http://127.0.0.1:8080/?token=… it prints',
    'ptybridge ws-listen:6080/websockify?static=/usr/share/novnc tcp:localhost:5900',
    "ptybridge pty:/dev/pts/4 'ws-listen:0.0.0.0:8443?cert=c.pem&key=k.pem&token-file=/etc/ptybridge/token'",
  ],
  notes: [
    'Every ws-listen asks for a token, on loopback too (other users of the machine and DNS-rebinding',
    'pages reach loopback): without ?token=, ?token-file= or $PTYBRIDGE_TOKEN one is generated and',
    'the URL to open is printed once on stderr. ?token=none opens the route to anyone who reaches the',
    "port. Browsers must use this server's own name (IP, localhost, the bound name, ?allowed-hosts=):",
    'others are refused with 403, as are WebSockets from another Origin (scheme included).',
    'Roles (behind a shared device): ?view-token= and view users of ?users= watch; ?readonly makes',
    'every peer of this listener watch. Under ?policy=exclusive the page can take the keyboard.',
    'With cert=, key= and client-ca= a client certificate signed by that CA is the credential instead',
    'of a token (browsers and ws clients present it); --help tls-listen shows how to make them.',
  ],
  options,
  urlTarget: true,
  parseTarget,
  validate(spec) {
    const o = spec.options;
    // `?token=$TOKEN` with the variable unset: refused, never a door open to whoever presents nothing.
    if (o.token !== undefined && o.token.trim() === '')
      throw new UsageError(
        `${quoteUri(redactSecrets(spec.uri))}: token= is ${o.token === '' ? 'empty' : 'blank'}: expected a secret (or token=none to open the route to anyone, on purpose)`,
      );
    if (o.token !== undefined && o['token-file'] !== undefined)
      throw new UsageError(`${quoteUri(redactSecrets(spec.uri))}: token= and token-file= exclude each other`);
    if (o['client-ca'] !== undefined) {
      if (o.cert === undefined)
        throw new UsageError(`${quoteUri(redactSecrets(spec.uri))}: client-ca= needs cert= and key=: client certificates come with TLS`);
      const token = (['token', 'token-file', 'view-token'] as const).find((k) => o[k] !== undefined);
      if (token)
        throw new UsageError(
          `${quoteUri(redactSecrets(spec.uri))}: ${token}= has no effect with client-ca=: the client certificate is the credential (view roles: ?users=)`,
        );
    }
    if (o.dotfiles && o.static === undefined) throw new UsageError(`${quoteUri(redactSecrets(spec.uri))}: ?dotfiles needs static=DIR`);
    const vt = o['view-token'];
    if (vt !== undefined) {
      if (vt.trim() === '' || vt === 'none')
        throw new UsageError(
          `${quoteUri(redactSecrets(spec.uri))}: view-token= expects a secret (its peers watch), got ${vt === '' ? 'nothing' : vt.trim() === '' ? 'blanks' : '"none"'}`,
        );
      if (o.token === 'none')
        throw new UsageError(`${quoteUri(redactSecrets(spec.uri))}: view-token= with token=none: without a token every peer types; give token= too`);
      if (vt === o.token) throw new UsageError(`${quoteUri(redactSecrets(spec.uri))}: view-token= is the same as token=: a peer could not be told apart`);
    }
    if (o['user-header'] !== undefined && o['trust-proxy'] === undefined)
      throw new UsageError(`${quoteUri(redactSecrets(spec.uri))}: user-header= is believed only from trust-proxy= addresses: give trust-proxy= too`);
    if (o['user-header'] !== undefined && !/^[!#$%&'*+.^_`|~\w-]+$/.test(o['user-header']))
      throw new UsageError(`${quoteUri(redactSecrets(spec.uri))}: user-header= expects a header name such as X-Forwarded-User`);
    parseTrustProxy(o['trust-proxy'], quoteUri(redactSecrets(spec.uri)));
  },
  async listen(spec, onLink, ctx) {
    // The HTTP server, its auth and the page's assets load when a listener opens: a route
    // without a WebSocket starts without them (bench/results-binary.md).
    const { describePeer, mount } = await import('../web/server.js');
    const { credentialOf, PAGE_PROTOCOL } = await import('../web/auth.js');
    const uri = redactSecrets(spec.uri);
    const o = spec.options;
    const { path } = spec.target;
    if ((o.cert === undefined) !== (o.key === undefined)) throw new UsageError(`${quoteUri(uri)}: cert= and key= go together`);
    const scheme = o.cert !== undefined ? 'wss' : 'ws';
    // `ws` (with the http, https, crypto and zlib it pulls in) loads on first use: a route
    // without a WebSocket starts without it.
    const { WebSocketServer } = await import('ws');
    const wss = new WebSocketServer({
      noServer: true,
      maxPayload: o['max-frame'],
      perMessageDeflate: false,
      // The page offers `ptybridge` beside its token's subprotocol: the answer must name one it offered.
      handleProtocols: (offered) => chooseSubprotocol(offered) ?? (offered.has(PAGE_PROTOCOL) ? PAGE_PROTOCOL : false),
    });
    const onPeer = (ws: WebSocket, req: http.IncomingMessage, auth: Admitted) => {
      const label = `${scheme} ${describePeer(req)}`;
      keepAlive(ws, o.ping, () => ctx.log.info(`${label}: no answer to ping within ${o.ping} ms; dropping it`));
      const framing = framingOf(ws.protocol);
      const stream = new WsStream(ws, { framing, label, log: ctx.log });
      ctx.log.debug(`${label}: subprotocol ${ws.protocol || '(none)'}`);
      // A resize asked of this link goes on to its peer as JSON (a relay: browser → ws-listen →
      // ws: → far ws-listen → exec); websockify framings have no way to carry it.
      const resize = framing === 'plain' ? (cols: number, rows: number) => stream.sendControl({ type: 'resize', cols, rows }) : undefined;
      // The page shows the keyboard state as a badge; websockify framings carry bytes only,
      // and such a peer is told in a line like a telnet peer.
      const follows = /\bkeyboard\b/i.test(String(req.headers[CONTROLS_HEADER] ?? ''));
      // Only to a peer that asked (header, or the page's request): through a relay as well.
      const tell = framing === 'plain' ? (state: KeyboardState) => (follows || stream.askedKeyboard) && stream.sendControl(state) : undefined;
      // The page asks for its tab's session (`?session=`, empty the first time); JSON tells it the id.
      const requested = new URL(req.url ?? '/', 'http://x').searchParams.get('session');
      const session =
        requested !== null && framing === 'plain'
          ? { requested, owner: credentialOf(auth), assign: (id: string) => stream.sendControl({ type: 'session', id }) }
          : undefined;
      onLink({
        stream,
        label,
        resize,
        tell,
        follows,
        role: auth.role,
        ...(auth.user !== undefined ? { user: auth.user } : {}),
        ...(session ? { session } : {}),
      });
    };
    // The server for host:port is shared by every route that names it (one port, many
    // consoles by path); its token, origin and TLS are the server's, the rest the path's.
    return mount(serverSettingsOf(spec), {
      uri,
      path,
      web: o.web,
      max: o.max,
      wss,
      log: ctx.log,
      name: ctx.route?.name,
      status: ctx.route?.status,
      api: ctx.route?.api,
      onPeer,
    });
  },
};

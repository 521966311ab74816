// ws-listen: — a WebSocket server (websockify-compatible) that also serves the browser terminal page.
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import { hostname } from 'node:os';
import https from 'node:https';
import type net from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { z } from 'zod';
import { EndpointError, UsageError } from '../errors.js';
import { duration, flag, int, size, text } from '../options.js';
import { chooseSubprotocol, framingOf, keepAlive, WsStream } from '../protocols/websockify.js';
import { formatHostPort, isLoopback, parseHostPort, quoteUri, quoted, type HostPort } from '../uri.js';
import { generateToken, originAllowed, redactUrl, tokenCookie, tokenMatches, tokenOf } from '../web/auth.js';
import { answer, serveStatic, serveTerminal } from '../web/http.js';
import type { ListeningType } from './types.js';

export interface WsListenTarget extends HostPort {
  /** Upgrades (and the page) only on this path; any path when undefined. */
  path?: string;
}

const options = z.object({
  token: text(undefined, 'secret a peer must present (Authorization: Bearer, cookie, or ?token= on the URL); generated and printed when the bind is not loopback'),
  origin: text(undefined, 'comma-separated browser origins allowed besides the same host (https://a.example), or * for any', 'origins'),
  cert: text(undefined, 'TLS certificate file (PEM): serve wss:// and https://', 'a file'),
  key: text(undefined, 'TLS private key file (PEM), with cert=', 'a file'),
  max: int(0, 0, 1_000_000, 'most WebSocket peers at once; more are answered 503 (0: no limit)'),
  'header-timeout': duration(10_000, 'a peer must send its whole HTTP request (headers) within this long, or it is cut (slowloris; 0: Node\'s 60 s)', 600_000),
  ping: duration(30_000, 'ping each peer this often and drop it when no pong came back by the next ping (0: off)'),
  'max-frame': size(1024 * 1024, 'largest message a peer may send; larger ones are closed with 1009'),
  web: flag(true, 'serve the browser terminal page on GET (off: 404)'),
  static: text(undefined, 'serve files from this directory, as websockify --web does (noVNC)', 'a directory'),
});

/** `[host:]port[/path]`: the address as tcp-listen takes it, then an optional path. */
function parseTarget(target: string, uri: string): WsListenTarget {
  const slash = target.indexOf('/');
  const hostPort = slash < 0 ? target : target.slice(0, slash);
  const path = slash < 0 ? undefined : target.slice(slash);
  if (path !== undefined && !/^\/[\x21-\x7e]*$/.test(path)) throw new UsageError(`${quoteUri(uri)}: bad path ${quoted(path)}: expected /path without spaces`);
  return { ...parseHostPort(hostPort, uri, { listening: true }), path: path === '/' ? undefined : path };
}

export const wsListen: ListeningType<WsListenTarget, typeof options> = {
  scheme: 'ws-listen',
  aliases: ['ws-l'],
  role: 'listening',
  summary: 'accept WebSocket peers (websockify binary/base64, noVNC) and serve a browser terminal; a bare port binds 127.0.0.1 only',
  targetForm: '[host:]port[/path]',
  examples: [
    'ptybridge exec:bash ws-listen:8080                        # a terminal at http://127.0.0.1:8080/',
    'ptybridge ws-listen:6080/websockify?static=/usr/share/novnc tcp:localhost:5900',
    'ptybridge pty:/dev/pts/4 ws-listen:0.0.0.0:8443?cert=c.pem&key=k.pem&token=s3cret',
  ],
  options,
  parseTarget,
  async listen(spec, onLink, ctx) {
    const uri = redactUrl(spec.uri);
    const o = spec.options;
    const { host, port, defaultedHost, path } = spec.target;
    if ((o.cert === undefined) !== (o.key === undefined)) throw new UsageError(`${quoteUri(uri)}: cert= and key= go together`);
    const tls = o.cert !== undefined;
    let server: http.Server;
    try {
      // Node's defaults let a peer trickle request headers for 60 s, checked every 30 s: a
      // slowloris holds a socket for up to 90 s. Ours cut it after ?header-timeout.
      const ht = o['header-timeout'];
      const limits: http.ServerOptions = ht > 0 ? { headersTimeout: ht, requestTimeout: ht, connectionsCheckingInterval: Math.min(1000, ht) } : {};
      server = tls
        ? https.createServer({ ...limits, cert: await readFile(o.cert!), key: await readFile(o.key!) })
        : http.createServer(limits);
    } catch (err) {
      throw new EndpointError(uri, err);
    }
    const token = o.token ?? (isLoopback(host) ? undefined : generateToken());
    const allowOrigins = (o.origin ?? '').split(',').map((s) => s.trim()).filter(Boolean);
    const wss = new WebSocketServer({
      noServer: true,
      maxPayload: o['max-frame'],
      perMessageDeflate: false,
      handleProtocols: (offered) => chooseSubprotocol(offered) ?? false,
    });
    const scheme = tls ? 'wss' : 'ws';
    let boundPort = port;
    const authorized = (req: http.IncomingMessage, url: URL) => token === undefined || tokenMatches(tokenOf(req, url, boundPort), token);
    const urlOf = (req: http.IncomingMessage) => new URL(req.url ?? '/', 'http://x');

    server.on('request', (req, res) => {
      const url = urlOf(req);
      if (req.method !== 'GET' && req.method !== 'HEAD') return answer(res, 405, 'method not allowed', { Allow: 'GET, HEAD' });
      if (!authorized(req, url)) return answer(res, 401, 'token required: open this address with ?token=…');
      const headers: Record<string, string> = token !== undefined && url.searchParams.has('token') ? { 'Set-Cookie': tokenCookie(boundPort, token, tls) } : {};
      void (async () => {
        if (o.static !== undefined && (await serveStatic(req, res, url.pathname, o.static))) return;
        if (o.web && serveTerminal(req, res, url.pathname, path, headers)) return;
        answer(res, 404, 'not found');
      })().catch(() => res.destroy());
    });

    let peers = 0;
    server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
      socket.on('error', () => {});
      const url = urlOf(req);
      const refuse = (status: number, why: string) => {
        ctx.log.info(`${uri}: refused ${describePeer(req)} ${redactUrl(req.url)}: ${status} ${why}`);
        socket.end(`HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: ${why.length + 1}\r\n\r\n${why}\n`);
      };
      if (path !== undefined && url.pathname !== path) return refuse(404, 'no WebSocket on this path');
      if (!originAllowed(req, allowOrigins)) return refuse(403, 'origin not allowed');
      if (!authorized(req, url)) return refuse(401, 'token required');
      if (o.max > 0 && peers >= o.max) return refuse(503, 'too many peers');
      wss.handleUpgrade(req, socket, head, (ws) => {
        peers++;
        ws.once('close', () => peers--);
        onPeer(ws, req);
      });
    });

    const onPeer = (ws: WebSocket, req: http.IncomingMessage) => {
      const label = `${scheme} ${describePeer(req)}`;
      keepAlive(ws, o.ping, () => ctx.log.info(`${label}: no answer to ping within ${o.ping} ms; dropping it`));
      const framing = framingOf(ws.protocol);
      const stream = new WsStream(ws, { framing, label, log: ctx.log });
      ctx.log.debug(`${label}: subprotocol ${ws.protocol || '(none)'}`);
      // A resize asked of this link goes on to its peer as JSON (a relay: browser → ws-listen →
      // ws: → far ws-listen → exec); websockify framings have no way to carry it.
      const resize = framing === 'plain' ? (cols: number, rows: number) => stream.sendControl({ type: 'resize', cols, rows }) : undefined;
      onLink({ stream, label, resize });
    };

    await new Promise<void>((resolve, reject) => {
      server.once('error', (err) => reject(new EndpointError(uri, err)));
      server.listen({ host, port }, () => resolve());
    });
    server.on('error', (err) => ctx.log.error(`${uri}: ${err.message}`));
    server.on('tlsClientError', (err) => ctx.log.debug(`${uri}: TLS: ${err.message}`));
    const a = server.address() as net.AddressInfo;
    boundPort = a.port;
    if (defaultedHost) ctx.log.warn(`${uri}: bound to loopback only; write ws-listen:0.0.0.0:${a.port} to accept other machines`);
    if (token !== undefined && o.token === undefined) {
      // Printed once, straight to stderr (not a log line that -q would hide): the only copy.
      const shown = a.address === '0.0.0.0' || a.address === '::' ? hostname() : a.address;
      const where = `${tls ? 'https' : 'http'}://${formatHostPort(shown, a.port)}${path ?? '/'}`;
      process.stderr.write(`ptybridge: ${uri}: not loopback, so peers need a token; generated one: open ${where}?token=${token}\n`);
    }
    return {
      label: `${scheme} ${formatHostPort(a.address, a.port)}${path ? ` ${path}` : ''}`,
      close: () =>
        new Promise<void>((done) => {
          server.close(() => done());
          server.closeIdleConnections();
          // Joined peers are closed gracefully by the router; any left after that are cut off.
          const t = setTimeout(() => {
            for (const ws of wss.clients) ws.terminate();
            server.closeAllConnections();
          }, 2500);
          t.unref();
        }),
    };
  },
};

function describePeer(req: http.IncomingMessage): string {
  return formatHostPort(req.socket.remoteAddress ?? '?', req.socket.remotePort ?? 0);
}

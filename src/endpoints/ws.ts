// ws: and wss: — WebSocket client, to a ws-listen server, websockify, or any WebSocket byte service.
import { readFile } from 'node:fs/promises';
import { EndpointError, UsageError } from '../errors.js';
import { duration, flag, oneOf, size, text, defineOptions } from '../options.js';
import { CONTROLS_HEADER, framingOf, keepAlive, WsStream } from '../protocols/websockify.js';
import { quoteUri, quoted } from '../uri.js';
import { readTokenFile, redactUrl } from '../web/auth.js';
import { retryOptions, validateRetry, withRetry } from './retry.js';
import type { ConnectingType } from '../core/endpoint.js';

export interface WsTarget {
  /** The URL to connect to, without ptybridge's own ?options. */
  url: string;
  /** "host:port" for labels. */
  authority: string;
}

const options = defineOptions({
  token: text(undefined, 'sent as "Authorization: Bearer TOKEN" (a ws-listen server accepts it)'),
  'token-file': text(undefined, 'read the token from the first line of this file (keeps it out of ps)', 'a file'),
  protocol: oneOf(['none', 'binary', 'base64'], 'none', "subprotocol to ask for: none (binary frames, resize as JSON text), or websockify's binary / base64"),
  origin: text(undefined, 'Origin header to send, for servers that check it', 'an origin such as https://host'),
  insecure: flag(false, 'wss: accept any server certificate (self-signed); prefer ca='),
  ca: text(undefined, 'wss: trust this CA or self-signed certificate file (PEM)', 'a file'),
  ping: duration(30_000, 'ping the server this often; give up when no pong came back by the next ping (0: off)'),
  'max-frame': size(16 * 1024 * 1024, 'largest message the server may send'),
  ...retryOptions,
});

function client(scheme: 'ws' | 'wss'): ConnectingType<WsTarget, typeof options> {
  return {
    scheme,
    role: 'connecting',
    sharing: 'per-peer',
    summary: scheme === 'ws' ? 'connect to a WebSocket server (ws-listen, websockify)' : 'connect to a WebSocket server over TLS',
    targetForm: '//host:port[/path]',
    examples: [
      `ptybridge stdio: ${scheme}://localhost:8080/`,
      `ptybridge tcp-listen:5900 '${scheme}://vnc.example:6080/websockify?protocol=binary&token=s3cret'`,
    ],
    options,
    urlTarget: true,
    parseTarget(target, uri) {
      if (!target.startsWith('//'))
        throw new UsageError(`${quoteUri(redactUrl(uri))}: expected ${scheme}://host:port[/path], got ${quoted(`${scheme}:${target}`)}`);
      let url: URL;
      try {
        url = new URL(`${scheme}:${target}`);
      } catch {
        throw new UsageError(`${quoteUri(redactUrl(uri))}: expected ${scheme}://host:port[/path], got ${quoted(`${scheme}:${target}`)}`);
      }
      if (!url.hostname) throw new UsageError(`${quoteUri(redactUrl(uri))}: missing host: expected ${scheme}://host:port[/path]`);
      return { url: url.href, authority: url.host };
    },
    validate(spec) {
      if (spec.options.token !== undefined && spec.options['token-file'] !== undefined)
        throw new UsageError(`${quoteUri(redactUrl(spec.uri))}: token= and token-file= exclude each other`);
      validateRetry(spec);
      // TLS options on a plain ws:// connection would do nothing: refused, like every idle option.
      const tls = spec.options.insecure ? 'insecure' : spec.options.ca !== undefined ? 'ca' : undefined;
      if (scheme === 'ws' && tls) throw new UsageError(`${quoteUri(redactUrl(spec.uri))}: option "${tls}" has no effect on ws:// (it is for wss://)`);
    },
    open: async (spec, ctx) => {
      const uri = redactUrl(spec.uri);
      const o = spec.options;
      const token = o['token-file'] === undefined ? o.token : await readTokenFile(o['token-file'], uri);
      return withRetry(
        async () => {
          let ca: Buffer | undefined;
          try {
            ca = o.ca === undefined ? undefined : await readFile(o.ca);
          } catch (err) {
            throw new EndpointError(`${uri}: ca=${o.ca}`, err);
          }
          // `ws` loads on first use (see ws-listen.ts): routes without a WebSocket start without it.
          const { default: WebSocket } = await import('ws');
          const ws = new WebSocket(spec.target.url, o.protocol === 'none' ? [] : [o.protocol], {
            headers: {
              ...(token !== undefined ? { Authorization: `Bearer ${token}` } : {}),
              ...(o.protocol === 'none' ? { [CONTROLS_HEADER]: 'keyboard' } : {}),
            },
            origin: o.origin,
            ca,
            rejectUnauthorized: !o.insecure,
            maxPayload: o['max-frame'],
            perMessageDeflate: false,
            handshakeTimeout: 15_000,
          });
          // A server may send right after its 101 answer (a hub's replay and keyboard state),
          // in the same read: those messages come before `open` has resolved below. Held here,
          // they are handed to the stream in order once it exists.
          const early: [Buffer, boolean][] = [];
          const hold = (data: Buffer, isBinary: boolean) => early.push([data, isBinary]);
          ws.on('message', hold);
          await new Promise<void>((resolve, reject) => {
            ws.once('open', resolve);
            ws.once('error', (err) => reject(new EndpointError(uri, err)));
            ws.once('unexpected-response', (_req, res) => {
              ws.terminate();
              reject(new EndpointError(uri, new Error(`server answered HTTP ${res.statusCode} ${res.statusMessage ?? ''}`.trim())));
            });
          });
          ws.on('error', () => {}); // reported by the stream
          const label = `${scheme} ${spec.target.authority}`;
          const framing = framingOf(ws.protocol);
          keepAlive(ws, o.ping, () => ctx.log.warn(`${label}: no answer to ping within ${o.ping} ms; closing`));
          const stream = new WsStream(ws, { framing, label, log: ctx.log });
          ws.off('message', hold);
          for (const [data, isBinary] of early) ws.emit('message', data, isBinary);
          return {
            stream,
            label,
            // Only plain framing has a way to say it; websockify's subprotocols carry bytes only.
            resize: framing === 'plain' ? (cols: number, rows: number) => stream.sendControl({ type: 'resize', cols, rows }) : undefined,
            // ~w and ~s of an interactive client, for a ptybridge hub on the far side.
            keyboard: framing === 'plain' ? (request: 'take' | 'release') => stream.sendControl({ type: request }) : undefined,
            // ~m: a mark in the far hub's history.
            mark: framing === 'plain' ? (label?: string) => stream.sendControl(label === undefined ? { type: 'mark' } : { type: 'mark', label }) : undefined,
          };
        },
        o,
        ctx,
        uri,
      );
    },
  };
}

export const ws = client('ws');
export const wss = client('wss');

// Test helpers for WebSocket endpoints: a plain `ws` client as the far peer, byte-exact exchanges, websockify.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import http from 'node:http';
import { connect } from 'node:net';
import type net from 'node:net';
import WebSocket from 'ws';
import { freePort, sha256, spawnTracked, waitForPort } from './ptyb.js';
import { within } from './until.js';

/**
 * Every ws-listen asks for a token (#11): tests give this one explicitly (`withToken`) and
 * present it (`wsUrl`, or `Authorization: Bearer` through `authHeader`).
 */
export const TOKEN = 'test-token-7Qm2';

/** `uri` with `token=TOKEN` added to its options: `ws-listen:0` → `ws-listen:0?token=…`. */
export function withToken(uri: string): string {
  return `${uri}${uri.includes('?') ? '&' : '?'}token=${TOKEN}`;
}

/** `ws://127.0.0.1:PORT/PATH?token=…`: a URL that presents the token. */
export function wsUrl(port: number, path = '/', scheme = 'ws'): string {
  return `${scheme}://127.0.0.1:${port}${path}?token=${TOKEN}`;
}

export const authHeader = { Authorization: `Bearer ${TOKEN}` };

/** GET with a literal, unnormalised path (fetch would clean up `..`) and any headers (a forged Host). */
export function rawGet(
  port: number,
  reqPath: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: reqPath, headers, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode!, body, headers: res.headers }));
    });
    req.on('error', reject);
    req.end();
  });
}

/**
 * An upgrade request written by hand, so that Host and Origin can be anything a rebinding
 * page's browser would send; resolves with the status code of the answer.
 */
export function rawUpgrade(port: number, reqPath: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port });
    let got = '';
    s.on('data', (c: Buffer) => {
      got += c.toString('latin1');
      const m = /^HTTP\/1\.1 (\d+)/.exec(got);
      if (m) {
        s.destroy();
        resolve(Number(m[1]));
      }
    });
    s.on('error', reject);
    s.on('close', () => reject(new Error(`closed without an answer: ${JSON.stringify(got)}`)));
    const lines = [
      `GET ${reqPath} HTTP/1.1`,
      'Upgrade: websocket',
      'Connection: Upgrade',
      'Sec-WebSocket-Version: 13',
      `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}`,
    ];
    for (const [k, v] of Object.entries(headers)) lines.push(`${k}: ${v}`);
    s.write(`${lines.join('\r\n')}\r\n\r\n`);
  });
}

/** Opens a WebSocket; rejects with the HTTP status ("401") when the upgrade is refused. */
export function openWs(
  url: string,
  opts: { protocols?: string[]; headers?: Record<string, string>; origin?: string; ca?: Buffer; maxPayload?: number } = {},
): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, opts.protocols ?? [], {
      headers: opts.headers,
      origin: opts.origin,
      ca: opts.ca,
      maxPayload: opts.maxPayload,
      perMessageDeflate: false,
    });
    // What the server sends with its handshake answer (a hub's replay) is emitted in the same
    // tick as 'open', before a caller awaiting this promise can listen: hold it until the
    // caller's first 'message' listener, then emit it again (a microtask later, so every
    // listener added in that same step gets it, before any later frame).
    const early: unknown[][] = [];
    const hold = (...args: unknown[]) => early.push(args);
    ws.on('message', hold);
    ws.on('newListener', function handOver(event: string | symbol, listener: unknown) {
      if (event !== 'message' || listener === hold) return;
      ws.off('newListener', handOver);
      ws.off('message', hold);
      queueMicrotask(() => {
        for (const args of early.splice(0)) ws.emit('message', ...args);
      });
    });
    ws.once('open', () => resolve(ws));
    ws.once('unexpected-response', (_req, res) => {
      res.resume();
      ws.terminate();
      reject(Object.assign(new Error(`HTTP ${res.statusCode}`), { status: res.statusCode }));
    });
    ws.once('error', reject);
  });
}

/** The close code the server sends, after `act` has been done on an open socket. */
export async function closeCodeAfter(ws: WebSocket, act: () => void): Promise<number> {
  const closed = once(ws, 'close');
  act();
  const [code] = await closed;
  return code as number;
}

/** Sends `data` in frames (binary, or base64 text), waiting while much is buffered. */
async function sendAll(ws: WebSocket, data: Buffer, base64: boolean, chunk = 64 * 1024): Promise<void> {
  for (let off = 0; off < data.length; off += chunk) {
    const part = data.subarray(off, off + chunk);
    await new Promise<void>((resolve, reject) =>
      ws.send(base64 ? part.toString('base64') : part, { binary: !base64 }, (err) => (err ? reject(err) : resolve())),
    );
  }
}

/** Reads from a TCP socket until `n` bytes have come. */
function readBytes(s: net.Socket, n: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let got = 0;
    const onData = (c: Buffer) => {
      chunks.push(c);
      got += c.length;
      if (got >= n) {
        s.off('data', onData);
        resolve(Buffer.concat(chunks));
      }
    };
    s.on('data', onData);
    s.once('error', reject);
    s.once('close', () => resolve(Buffer.concat(chunks)));
  });
}

/**
 * A `ws` client at `url` and the TCP socket the forwarder opened upstream exchange `size`
 * random bytes each way at once. A WebSocket has no half-close, so the TCP side ends only
 * after it has everything, and the client reads until the server's close frame.
 */
export async function wsTcpExchange(
  url: string,
  protocol: 'binary' | 'base64' | 'none',
  upstream: Promise<net.Socket>,
  size = 10 * 1024 * 1024,
  opts: { endAfterDelivery?: boolean } = {},
): Promise<void> {
  const up = randomBytes(size);
  const down = randomBytes(size);
  const ws = await openWs(url, { protocols: protocol === 'none' ? [] : [protocol] });
  assert.equal(ws.protocol, protocol === 'none' ? '' : protocol, 'negotiated subprotocol');
  const base64 = protocol === 'base64';
  const received: Buffer[] = [];
  let receivedBytes = 0;
  let delivered!: () => void;
  const allDelivered = new Promise<void>((r) => (delivered = r));
  ws.on('message', (data: Buffer, isBinary: boolean) => {
    assert.equal(isBinary, !base64, 'frame type');
    const bytes = base64 ? Buffer.from(data.toString(), 'base64') : data;
    received.push(bytes);
    receivedBytes += bytes.length;
    if (receivedBytes >= size) delivered();
  });
  const closed = once(ws, 'close');
  const sending = sendAll(ws, up, base64);
  const tcp = await upstream;
  const tcpGot = readBytes(tcp, size);
  tcp.write(down);
  const atTcp = await tcpGot;
  await sending;
  if (opts.endAfterDelivery) await Promise.race([allDelivered, closed]);
  tcp.end();
  await closed;
  const atWs = Buffer.concat(received);
  assert.equal(atTcp.length, size, 'ws→tcp length');
  assert.equal(sha256(atTcp), sha256(up), 'ws→tcp bytes');
  assert.equal(atWs.length, size, 'tcp→ws length');
  assert.equal(sha256(atWs), sha256(down), 'tcp→ws bytes');
}

/** Two TCP sockets exchange `size` bytes each way; each ends only after it has everything. */
export async function tcpExchange(a: net.Socket, b: net.Socket, size = 4 * 1024 * 1024): Promise<void> {
  const ab = randomBytes(size);
  const ba = randomBytes(size);
  const [atB, atA] = await Promise.all([readBytes(b, size), readBytes(a, size), a.write(ab), b.write(ba)]);
  a.end();
  b.end();
  assert.equal(sha256(atB), sha256(ab), 'a→b bytes');
  assert.equal(sha256(atA), sha256(ba), 'b→a bytes');
}

/** Starts websockify (the Debian one, under /usr/bin/python3) in front of a TCP target. */
export async function startWebsockify(targetPort: number, extra: string[] = []): Promise<{ port: number; stop(): Promise<void> }> {
  const port = await freePort();
  const proc = spawnTracked('/usr/bin/python3', ['/usr/bin/websockify', ...extra, `127.0.0.1:${port}`, `127.0.0.1:${targetPort}`]);
  proc.stdout!.resume();
  proc.stderr!.resume();
  await waitForPort(port);
  return {
    port,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGTERM');
        await once(proc, 'exit');
      }
    },
  };
}

/** A hub's keyboard state as a page gets it (src/core/roles.ts). */
export interface KeyboardMessage {
  type: 'keyboard';
  you: 'typing' | 'watching' | 'read-only';
  name?: string;
  policy: string;
  holder?: string;
  watching: number;
  peers: number;
}

/**
 * A plain-framed peer of a hub, as the page is: the bytes it was sent, read like a stream
 * (up to a pattern), and the keyboard states it was told. Listeners are attached before the
 * handshake ends: the replay and the first state can arrive with the 101 answer.
 */
export async function openPeer(url: string, opts: { headers?: Record<string, string>; localAddress?: string } = {}) {
  const ws = new WebSocket(url, [], { headers: opts.headers, localAddress: opts.localAddress, perMessageDeflate: false });
  let buf = Buffer.alloc(0);
  const states: KeyboardMessage[] = [];
  let wake: (() => void) | undefined;
  let closed = false;
  ws.on('message', (data: Buffer, isBinary: boolean) => {
    if (isBinary) buf = Buffer.concat([buf, data]);
    else states.push(JSON.parse(data.toString()) as KeyboardMessage);
    wake?.();
  });
  ws.on('close', () => {
    closed = true;
    wake?.();
  });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('unexpected-response', (_req, res) => {
      res.resume();
      ws.terminate();
      reject(Object.assign(new Error(`HTTP ${res.statusCode}`), { status: res.statusCode }));
    });
    ws.once('error', reject);
  });
  // As the page does: ask for the keyboard state.
  ws.send(JSON.stringify({ type: 'keyboard' }));
  const more = (what: string) => {
    if (closed)
      throw new Error(`ws closed while waiting for ${what}; bytes ${JSON.stringify(buf.toString('latin1').slice(-200))}, states ${JSON.stringify(states)}`);
    return new Promise<void>((r) => (wake = r));
  };
  return {
    ws,
    states,
    /** Resolves with everything up to and including `pattern`, consuming it. */
    async text(pattern: string): Promise<string> {
      let at = -1;
      const found = (async () => {
        while ((at = buf.indexOf(pattern)) < 0) await more(JSON.stringify(pattern));
      })();
      await within(found, {
        what: `${JSON.stringify(pattern)} from the ws peer`,
        detail: () => `it has (the end): ${JSON.stringify(buf.toString('latin1').slice(-300))}`,
      });
      const out = buf.subarray(0, at + pattern.length).toString('latin1');
      buf = buf.subarray(at + pattern.length);
      return out;
    },
    /** The latest keyboard state, once it satisfies `ok`. */
    async state(ok: (s: KeyboardMessage) => boolean): Promise<KeyboardMessage> {
      const found = (async () => {
        while (!states.length || !ok(states.at(-1)!)) await more('a keyboard state');
      })();
      await within(found, { what: `a keyboard state that satisfies ${ok.toString().replace(/\s+/g, ' ')}`, detail: () => `states: ${JSON.stringify(states)}` });
      return states.at(-1)!;
    },
    send(text: string | object): void {
      ws.send(typeof text === 'string' ? Buffer.from(text) : JSON.stringify(text), { binary: typeof text === 'string' });
    },
    close(): void {
      ws.close();
    },
  };
}

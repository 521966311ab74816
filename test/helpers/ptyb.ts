// Test helpers: run the real ptybridge, real sockets and real peer tools; nothing is mocked.
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import net from 'node:net';
import { once } from 'node:events';
import type { Duplex } from 'node:stream';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { until } from './until.js';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** The bundled CLI that `npm test` builds first. */
export const PTYBRIDGE = fileURLToPath(new URL('../../dist/ptybridge.mjs', import.meta.url));

const children = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

/** Spawns a child that is killed when the test process exits, whatever happens. */
export function spawnTracked(cmd: string, args: string[], opts: SpawnOptions = {}): ChildProcess {
  const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], ...opts });
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

export interface Running {
  proc: ChildProcess;
  /** Addresses from the "listening on" lines, in order: { host, port } or { path }. */
  listening: { scheme: string; host: string; port: number; path: string }[];
  stderr(): string;
  /**
   * Waits for a line of stderr to match and returns the match. The child's stderr is a pipe of
   * its own, so a line can arrive after the reply a client already has: assert log lines with this.
   */
  logged(re: RegExp, what?: string): Promise<RegExpExecArray>;
  /** Sends a signal (SIGTERM by default) and resolves with how the process ended. */
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts ptybridge and waits until it prints `listeners` "listening on" lines. */
export async function startPtyb(args: string[], opts: { listeners?: number; env?: NodeJS.ProcessEnv; cwd?: string; cmd?: string[] } = {}): Promise<Running> {
  const want = opts.listeners ?? 1;
  const [cmd, ...pre] = opts.cmd ?? [process.execPath, PTYBRIDGE];
  const proc = spawnTracked(cmd!, [...pre, ...args], { env: opts.env ?? process.env, cwd: opts.cwd });
  let err = '';
  const listening: Running['listening'] = [];
  const exited = once(proc, 'exit').then(([code, signal]) => ({ code: code as number | null, signal: signal as NodeJS.Signals | null }));
  await new Promise<void>((resolve, reject) => {
    if (want === 0) resolve();
    proc.stderr!.setEncoding('utf8');
    proc.stderr!.on('data', (text: string) => {
      err += text;
      for (const m of text.matchAll(/listening on (\S+) ([^\s"]+)/g)) {
        // a JSON log line too
        const addr = m[2]!;
        const hp = /^\[?(.*?)\]?:(\d+)$/.exec(addr);
        listening.push({ scheme: m[1]!, host: hp?.[1] ?? '', port: hp ? Number(hp[2]) : 0, path: hp ? '' : addr });
        if (listening.length === want) resolve();
      }
    });
    exited.then(({ code }) => reject(new Error(`ptybridge ${args.join(' ')} exited (${code}) before listening:\n${err}`)));
  });
  return {
    proc,
    listening,
    stderr: () => err,
    logged: (re, what) => until(() => re.exec(err), { what: what ?? `a log line matching ${re}`, detail: () => `stderr:\n${err}` }),
    exited,
    stop(signal = 'SIGTERM') {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      return exited;
    },
  };
}

/** Runs ptybridge to completion; resolves with its status and output. */
export async function runPtyb(
  args: string[],
  opts: { input?: Buffer | string; env?: NodeJS.ProcessEnv } = {},
): Promise<{ code: number | null; stdout: Buffer; stderr: string }> {
  return runTool(process.execPath, [PTYBRIDGE, ...args], opts);
}

/** Runs any program to completion, feeding `input` on stdin. */
export async function runTool(
  cmd: string,
  args: string[],
  opts: { input?: Buffer | string; env?: NodeJS.ProcessEnv; cwd?: string } = {},
): Promise<{ code: number | null; stdout: Buffer; stderr: string }> {
  const proc = spawnTracked(cmd, args, { env: opts.env ?? process.env, cwd: opts.cwd });
  const out: Buffer[] = [];
  let err = '';
  proc.stdout!.on('data', (c: Buffer) => out.push(c));
  proc.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  proc.stdin!.on('error', () => {});
  proc.stdin!.end(opts.input ?? '');
  const [code] = await once(proc, 'close');
  return { code: code as number | null, stdout: Buffer.concat(out), stderr: err };
}

/** Connects to a TCP port on loopback. */
export async function connectTcp(port: number, host = '127.0.0.1'): Promise<net.Socket> {
  const s = net.connect({ host, port, allowHalfOpen: true });
  await once(s, 'connect');
  return s;
}

/**
 * Reads a stream to its end without destroying it (a for-await loop would destroy a
 * socket whose write side is still in use).
 */
export function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer | string) => chunks.push(Buffer.isBuffer(c) ? c : Buffer.from(c)));
    stream.once('end', () => resolve(Buffer.concat(chunks)));
    stream.once('error', reject);
    stream.once('close', () => resolve(Buffer.concat(chunks)));
  });
}

/** Reads from a stream until `pattern` (text) has been seen; resolves with all read so far. */
export function readUntil(stream: NodeJS.ReadableStream, pattern: string | RegExp): Promise<string> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const onData = (c: Buffer) => {
      seen += c.toString('latin1');
      if (typeof pattern === 'string' ? seen.includes(pattern) : pattern.test(seen)) {
        stream.off('data', onData);
        resolve(seen);
      }
    };
    stream.on('data', onData);
    stream.once('end', () => reject(new Error(`stream ended before ${pattern}; got ${JSON.stringify(seen.slice(-500))}`)));
  });
}

export const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** Writes `data` in chunks with backpressure, then (unless keepOpen) half-closes. */
export async function writeAll(stream: NodeJS.WritableStream, data: Buffer, opts: { keepOpen?: boolean; chunk?: number } = {}): Promise<void> {
  const step = opts.chunk ?? 64 * 1024;
  for (let off = 0; off < data.length; off += step) {
    if (!stream.write(data.subarray(off, off + step))) await once(stream, 'drain');
  }
  if (!opts.keepOpen) stream.end();
}

/**
 * Sends a random payload a→b and another b→a at the same time, half-closing each side
 * after its payload, and asserts both arrive byte-exact (SHA-256).
 */
export async function transferBothWays(a: Duplex, b: Duplex, size = 10 * 1024 * 1024): Promise<void> {
  const ab = randomBytes(size);
  const ba = randomBytes(size);
  const [gotAtB, gotAtA] = await Promise.all([readAll(b), readAll(a), writeAll(a, ab), writeAll(b, ba)]);
  assert.equal(gotAtB.length, ab.length, 'a→b length');
  assert.equal(sha256(gotAtB), sha256(ab), 'a→b bytes');
  assert.equal(gotAtA.length, ba.length, 'b→a length');
  assert.equal(sha256(gotAtA), sha256(ba), 'b→a bytes');
}

/** A free TCP port on loopback, for peer tools that cannot bind port 0 and report it. */
export async function freePort(): Promise<number> {
  const s = net.createServer();
  s.listen(0, '127.0.0.1');
  await once(s, 'listening');
  const { port } = s.address() as net.AddressInfo;
  await new Promise((r) => s.close(r));
  return port;
}

/** Waits until something accepts TCP connections on the port (a peer tool starting up). */
export async function waitForPort(port: number, host = '127.0.0.1', timeout = 30_000): Promise<void> {
  await until(
    () =>
      connectTcp(port, host).then(
        (s) => (s.destroy(), true),
        () => false,
      ),
    { what: `something to listen on ${host}:${port}`, timeout, step: 50 },
  );
}

/** A TCP server on loopback port 0; `handler` gets each socket. Closed by the returned close(). */
export async function tcpServer(handler: (s: net.Socket) => void): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer({ allowHalfOpen: true }, (s) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
    handler(s);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        for (const s of sockets) s.destroy();
      }),
  };
}

/** A TCP server on loopback port 0 whose first accepted socket `first` resolves to. */
export async function acceptOne(): Promise<{ port: number; first: Promise<net.Socket>; close(): Promise<void> }> {
  let accept!: (s: net.Socket) => void;
  const first = new Promise<net.Socket>((r) => (accept = r));
  const server = await tcpServer((s) => accept(s));
  return { ...server, first };
}

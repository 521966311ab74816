// Helpers for the load and fault tests: process accounting from /proc, endless reproducible
// payloads, writers and readers that pause at random, and bounded concurrency.
import { createCipheriv, createHash, randomBytes, type Hash } from 'node:crypto';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import type { Duplex } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';

/** Open file descriptors of a process, from /proc/PID/fd. */
export function fdCount(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

/** What the process's descriptors point at ("socket:[123]", "/dev/ptmx"), for leak messages. */
export function fdTargets(pid: number): string[] {
  return readdirSync(`/proc/${pid}/fd`).map((fd) => {
    try {
      return readlinkSync(`/proc/${pid}/fd/${fd}`);
    } catch {
      return '?';
    }
  });
}

/** Resident set size of a process in bytes, from /proc/PID/status. */
export function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS for ${pid}`);
  return Number(m[1]) * 1024;
}

export const MiB = 1024 * 1024;

/**
 * An endless reproducible byte stream (AES-128-CTR over zeros): fast, never repeats, so
 * a reordered or duplicated chunk changes the hash; the same seed gives the same bytes.
 */
export class Payload {
  private readonly cipher;
  private readonly zeros = Buffer.alloc(256 * 1024);
  constructor(seed: Buffer = randomBytes(16)) {
    this.cipher = createCipheriv('aes-128-ctr', seed, Buffer.alloc(16));
  }
  /** The next `n` bytes. */
  next(n: number): Buffer {
    const out: Buffer[] = [];
    for (let left = n; left > 0; left -= this.zeros.length) out.push(this.cipher.update(this.zeros.subarray(0, Math.min(left, this.zeros.length))));
    return out.length === 1 ? out[0]! : Buffer.concat(out);
  }
}

/** Random integer in [min, max]. */
export const rand = (min: number, max: number) => min + Math.floor(Math.random() * (max - min + 1));

/**
 * Writes `total` bytes of `payload` in random chunk sizes (1 byte to 256 KiB) with random
 * pauses, honouring backpressure; half-closes at the end unless `keepOpen`. Returns the SHA-256.
 */
export async function writeRandomly(stream: Duplex, payload: Payload, total: number, opts: { pauseEvery?: number; keepOpen?: boolean } = {}): Promise<string> {
  const hash = createHash('sha256');
  const pauseEvery = opts.pauseEvery ?? 64;
  let n = 0;
  for (let sent = 0; sent < total; ) {
    const size = Math.min(total - sent, pickChunkSize());
    const chunk = payload.next(size);
    hash.update(chunk);
    sent += size;
    if (!stream.write(chunk)) await drainOrClose(stream);
    if (stream.destroyed) throw new Error(`stream closed after ${sent} of ${total} bytes`);
    if (++n % pauseEvery === 0) await sleep(rand(0, 3));
  }
  if (!opts.keepOpen) stream.end();
  return hash.digest('hex');
}

/** Waits for 'drain' or 'close', leaving no listener behind (a race of two once() left one per wait). */
function drainOrClose(stream: Duplex): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      stream.off('drain', done);
      stream.off('close', done);
      resolve();
    };
    stream.once('drain', done);
    stream.once('close', done);
  });
}

/** Mostly mid-sized chunks, some tiny (1–16 bytes), some large. */
function pickChunkSize(): number {
  const r = Math.random();
  if (r < 0.1) return rand(1, 16);
  if (r < 0.8) return rand(17, 64 * 1024);
  return rand(64 * 1024, 256 * 1024);
}

/** Reads to the end, pausing at random, hashing as it goes; resolves with byte count and SHA-256. */
export function readRandomly(stream: Duplex, opts: { pauseEvery?: number } = {}): Promise<{ bytes: number; sha256: string }> {
  const hash: Hash = createHash('sha256');
  const pauseEvery = opts.pauseEvery ?? 64;
  let bytes = 0;
  let n = 0;
  return new Promise((resolve, reject) => {
    stream.on('data', (c: Buffer) => {
      hash.update(c);
      bytes += c.length;
      if (++n % pauseEvery === 0) {
        stream.pause();
        setTimeout(() => stream.resume(), rand(0, 5));
      }
    });
    stream.once('end', () => resolve({ bytes, sha256: hash.digest('hex') }));
    stream.once('error', reject);
    stream.once('close', () => reject(new Error(`closed without end after ${bytes} bytes`)));
  });
}

/** Runs `count` tasks, at most `limit` at once; rejects on the first failure. */
export async function withConcurrency(count: number, limit: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < count) await task(next++);
  };
  await Promise.all(Array.from({ length: Math.min(limit, count) }, worker));
}

/**
 * readRandomly for a stream that stays open (a hub peer, a WebSocket): resolves once `total`
 * bytes have come, pausing at random meanwhile. Bytes beyond `total` that came in the same
 * chunk are hashed too, so a duplicate shows as a wrong hash.
 */
export function readRandomlyUntil(stream: Duplex, total: number, opts: { pauseEvery?: number } = {}): Promise<{ bytes: number; sha256: string }> {
  const hash: Hash = createHash('sha256');
  const pauseEvery = opts.pauseEvery ?? 64;
  let bytes = 0;
  let n = 0;
  return new Promise((resolve, reject) => {
    const onData = (c: Buffer) => {
      hash.update(c);
      bytes += c.length;
      if (bytes >= total) {
        stream.off('data', onData);
        stream.off('close', onClose);
        resolve({ bytes, sha256: hash.digest('hex') });
        return;
      }
      if (++n % pauseEvery === 0) {
        stream.pause();
        setTimeout(() => stream.resume(), rand(0, 5));
      }
    };
    const onClose = () => reject(new Error(`closed after ${bytes} of ${total} bytes`));
    stream.on('data', onData);
    stream.once('error', reject);
    stream.once('close', onClose);
  });
}

/** Pids of a process's children, from /proc (each /proc/PID/stat names its parent). */
export function childPids(pid: number): number[] {
  const kids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      // "pid (comm) state ppid …": comm may hold spaces and parentheses, so split after the last ')'.
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) kids.push(Number(name));
    } catch {
      // Gone meanwhile.
    }
  }
  return kids;
}

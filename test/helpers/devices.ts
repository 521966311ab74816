// Test helpers for device endpoints: a fake VM serial pty (python, real pty), exact-length reads.
import { once } from 'node:events';
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnTracked } from './ptyb.js';
import { until, within } from './until.js';

const FAKE_VM = fileURLToPath(new URL('./fake-vm.py', import.meta.url));

/** A fake VM whose serial console is a real pty: `slave` is what QEMU would print. */
export interface FakeVm {
  proc: ChildProcess;
  slave: string;
  /** Every byte the device side (the master) has read so far. */
  received(): Buffer;
  /** Resolves once the device side has received `pattern`. */
  waitReceived(pattern: string): Promise<void>;
  say(bytes: Buffer | string): void;
  /** Writes a file's bytes to the console; resolves when all were written. */
  sendFile(path: string): Promise<void>;
  /** Closes the master, as a VM that powers off does. */
  quit(): Promise<void>;
  /** Stops reading the master (input piles up in the pty, then in ptybridge); release() reads again. */
  hold(): void;
  release(): void;
}

export async function startFakeVm(link?: string): Promise<FakeVm> {
  const proc = spawnTracked('/usr/bin/python3', [FAKE_VM, ...(link ? [link] : [])]);
  const rx: Buffer[] = [];
  let lineBuf = '';
  const waiters: (() => void)[] = [];
  let slave = '';
  let gotSlave!: () => void;
  const slaveReady = new Promise<void>((r) => (gotSlave = r));
  proc.stdout!.setEncoding('utf8');
  proc.stdout!.on('data', (text: string) => {
    lineBuf += text;
    let nl: number;
    while ((nl = lineBuf.indexOf('\n')) >= 0) {
      const line = lineBuf.slice(0, nl);
      lineBuf = lineBuf.slice(nl + 1);
      if (line.startsWith('slave ')) {
        slave = line.slice(6);
        gotSlave();
      } else if (line.startsWith('rx ')) rx.push(Buffer.from(line.slice(3), 'hex'));
      waiters.splice(0).forEach((w) => w());
      if (line === 'sent') sentWaiters.shift()?.();
    }
  });
  const sentWaiters: (() => void)[] = [];
  await slaveReady;
  const vm: FakeVm = {
    proc,
    slave,
    received: () => Buffer.concat(rx),
    async waitReceived(pattern) {
      const arrived = (async () => {
        while (!vm.received().includes(pattern)) {
          if (proc.exitCode !== null) throw new Error(`fake VM exited before it received ${JSON.stringify(pattern)}`);
          await new Promise<void>((r) => waiters.push(r));
        }
      })();
      await within(arrived, {
        what: `the fake VM to receive ${JSON.stringify(pattern)}`,
        detail: () => `it received (the end): ${JSON.stringify(vm.received().toString('latin1').slice(-300))}`,
      });
    },
    say(bytes) {
      proc.stdin!.write(`say ${Buffer.from(bytes).toString('hex')}\n`);
    },
    sendFile(path) {
      const done = new Promise<void>((resolve, reject) => {
        sentWaiters.push(resolve);
        proc.once('exit', () => reject(new Error(`fake VM exited before it wrote all of ${path}`)));
      });
      proc.stdin!.write(`file ${path}\n`);
      return done;
    },
    hold() {
      proc.stdin!.write('hold\n');
    },
    release() {
      proc.stdin!.write('release\n');
    },
    async quit() {
      if (proc.exitCode !== null) return;
      const exited = once(proc, 'exit');
      proc.stdin!.write('quit\n');
      // A VM blocked writing to a pty nobody reads never sees "quit": end it anyway.
      const kill = setTimeout(() => proc.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(kill);
    },
  };
  return vm;
}

/**
 * Reads from a paused stream until `take` returns how many bytes of everything seen so far
 * it wants; those bytes resolve, later bytes are put back and the stream is left paused
 * (so that nothing is lost between reads). Rejects with `ended(seen)` if the stream ends first.
 */
function readPrefix(
  stream: NodeJS.ReadableStream,
  take: (length: number, seen: () => Buffer) => number | undefined,
  ended: (seen: Buffer) => string,
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let length = 0;
    // Joined only when asked for: a 10 MiB read must not copy its prefix at every chunk.
    const seen = () => {
      if (chunks.length > 1) chunks.splice(0, chunks.length, Buffer.concat(chunks));
      return chunks[0] ?? Buffer.alloc(0);
    };
    const onData = (c: Buffer) => {
      chunks.push(c);
      length += c.length;
      const n = take(length, seen);
      if (n === undefined) return;
      cleanup();
      const all = seen();
      if (all.length > n) stream.unshift(all.subarray(n));
      resolve(all.subarray(0, n));
    };
    const onEnd = () => {
      cleanup();
      reject(new Error(ended(seen())));
    };
    const cleanup = () => {
      stream.pause();
      stream.off('data', onData);
      stream.off('end', onEnd);
      stream.off('close', onEnd);
    };
    stream.on('data', onData);
    stream.once('end', onEnd);
    stream.once('close', onEnd);
    stream.resume();
  });
}

/** A read's bound, beyond any test's own timeout for a big transfer on a loaded machine: it names what never came. */
const READ_BOUND_MS = 240_000;

/** Reads exactly `n` bytes from a stream (fails if it ends first); leaves later bytes unread. */
export function readBytes(stream: NodeJS.ReadableStream, n: number): Promise<Buffer> {
  let have = 0;
  const read = readPrefix(
    stream,
    (length) => ((have = length) >= n ? n : undefined),
    (seen) => `stream ended after ${seen.length} of ${n} bytes`,
  );
  return within(read, { what: `${n} bytes from the stream`, timeout: READ_BOUND_MS, detail: () => `${have} came` });
}

/** Waits for a condition; fails naming it (test/helpers/until.ts). */
export { until } from './until.js';

/**
 * Reads until `pattern` has been seen; resolves with everything read up to and including it.
 * Like readBytes it leaves the stream paused, with later bytes unread.
 */
export async function readText(stream: NodeJS.ReadableStream, pattern: string): Promise<string> {
  const needle = Buffer.from(pattern, 'latin1');
  let last: () => Buffer = () => Buffer.alloc(0);
  const read = readPrefix(
    stream,
    (_length, seen) => {
      last = seen;
      const at = seen().indexOf(needle);
      return at >= 0 ? at + needle.length : undefined;
    },
    (seen) => `stream ended before ${JSON.stringify(pattern)}; got ${JSON.stringify(seen.toString('latin1').slice(-300))}`,
  );
  const got = await within(read, {
    what: `${JSON.stringify(pattern)} from the stream`,
    timeout: READ_BOUND_MS,
    detail: () => `it sent (the end): ${JSON.stringify(last().toString('latin1').slice(-300))}`,
  });
  return got.toString('latin1');
}

/**
 * Parses an address for one endpoint type in-process, without the registry (which pulls
 * in modules that exist only in the bundle, such as the web assets).
 */
export async function specFor(
  uri: string,
  type: { parseTarget(t: string, u: string): unknown; options: import('../../src/core/option-schema.js').OptionsSchema },
) {
  const { splitAddress, parseOptions } = await import('../../src/uri.js');
  const raw = splitAddress(uri);
  return { uri, scheme: raw.scheme, target: type.parseTarget(raw.target, uri), options: parseOptions(raw, type.options) };
}

/** connectTcp, with resets ignored: a peer of a hub may be closed while the test is done with it. */
export async function connectPeer(port: number): Promise<import('node:net').Socket> {
  const { connectTcp } = await import('./ptyb.js');
  const s = await connectTcp(port);
  s.on('error', () => {});
  return s;
}

/** Two linked ptys made by socat: ptybridge serves `dev` as serial:, the test talks on `far`. */
export async function ptyPair(prefix: string): Promise<{ dev: string; far: string; close(): void }> {
  const d = mkdtempSync(join(tmpdir(), prefix));
  const dev = join(d, 'ttyDEV');
  const far = join(d, 'ttyFAR');
  const pair = spawnTracked('socat', [`PTY,link=${dev},raw,echo=0`, `PTY,link=${far},raw,echo=0`]);
  await until(() => existsSync(dev) && existsSync(far), {
    what: `socat's pty pair at ${dev} and ${far}`,
    timeout: 30_000,
    detail: () => `socat exit ${pair.exitCode}`,
  });
  return {
    dev,
    far,
    close() {
      pair.kill();
      rmSync(d, { recursive: true, force: true });
    },
  };
}

// Test helpers for device endpoints: a fake VM serial pty (python, real pty), exact-length reads.
import { once } from 'node:events';
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { spawnTracked } from './ptyb.js';

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
      while (!vm.received().includes(pattern)) {
        if (proc.exitCode !== null) throw new Error('fake VM exited');
        await new Promise<void>((r) => waiters.push(r));
      }
    },
    say(bytes) {
      proc.stdin!.write(`say ${Buffer.from(bytes).toString('hex')}\n`);
    },
    sendFile(path) {
      const done = new Promise<void>((r) => sentWaiters.push(r));
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
      await exited;
    },
  };
  return vm;
}

/** Reads exactly `n` bytes from a stream (fails if it ends first); leaves later bytes unread. */
export function readBytes(stream: NodeJS.ReadableStream, n: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let have = 0;
    const onData = (c: Buffer) => {
      chunks.push(c);
      have += c.length;
      if (have >= n) {
        cleanup();
        const all = Buffer.concat(chunks);
        if (all.length > n) stream.unshift(all.subarray(n));
        resolve(all.subarray(0, n));
      }
    };
    const onEnd = () => {
      cleanup();
      reject(new Error(`stream ended after ${have} of ${n} bytes`));
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

/** Polls `check` until it returns true (no timing assertion: the test's own timeout bounds it). */
export async function until(check: () => boolean, stepMs = 20): Promise<void> {
  while (!check()) await new Promise((r) => setTimeout(r, stepMs));
}

/**
 * Reads until `pattern` has been seen; resolves with everything read. Like readBytes it
 * leaves the stream paused (so that nothing is lost between reads) and resumes it first.
 */
export function readText(stream: NodeJS.ReadableStream, pattern: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const onData = (c: Buffer) => {
      seen += c.toString('latin1');
      const at = seen.indexOf(pattern);
      if (at >= 0) {
        cleanup();
        const rest = seen.slice(at + pattern.length);
        if (rest) stream.unshift(Buffer.from(rest, 'latin1'));
        resolve(seen.slice(0, at + pattern.length));
      }
    };
    const onEnd = () => {
      cleanup();
      reject(new Error(`stream ended before ${JSON.stringify(pattern)}; got ${JSON.stringify(seen.slice(-300))}`));
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

/**
 * Parses an address for one endpoint type in-process, without the registry (which pulls
 * in modules that exist only in the bundle, such as the web assets).
 */
export async function specFor(uri: string, type: { parseTarget(t: string, u: string): unknown; options: import('zod').z.ZodObject }) {
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

// Terminal settings of many ttys at once: saved and restored in-process (libuv's tty handle), raw mode set by stty children in bounded batches.
//
// A config with 1000 ptys used to run `stty -g` and `stty raw…` per device (2000 children,
// one after another) and `stty SAVED` synchronously per device at exit: a minute to start,
// more than 10 s to stop. Node has no termios API and our addons offer none that can both
// save and restore (serialport's open makes a port raw but flushes its input and keeps no
// copy of the old settings). libuv's tty handle can: uv_tty_set_mode() saves the settings
// with tcgetattr() and puts them back with tcsetattr(), in-process, in microseconds. Its raw
// mode is not binary-clean (it keeps OPOST/ONLCR, IXOFF, PARENB), so stty still sets ours,
// with the device as an inherited fd (no path in argv) and many devices per child.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { errnoFromText, sttyFd } from './tty-fd.js';

interface TtyHandle {
  readonly fd: number;
  setRawMode(raw: boolean): number;
  close(): void;
}
type TtyBinding = { TTY: new (fd: number, ctx: { code?: string }) => TtyHandle };

let ttyBinding: TtyBinding | null | undefined;
function binding(): TtyBinding | null {
  if (ttyBinding === undefined) {
    try {
      ttyBinding = (process as unknown as { binding(name: string): TtyBinding }).binding('tty_wrap');
    } catch {
      ttyBinding = null;
    }
  }
  return ttyBinding;
}

/**
 * Saves the settings of the tty at `path` (its real node), sets `args` (stty words such as
 * RAW_ARGS) and returns a function that puts the saved settings back, synchronously (it runs
 * while the stream closes, also during shutdown), once.
 */
export async function setSaved(path: string, args: string[]): Promise<() => void> {
  const b = binding();
  if (!b) return setSavedByStty(path, args);
  // A descriptor of its own: the handle reopens the slave onto it and owns it until restore.
  const { O_RDWR, O_NOCTTY, O_NONBLOCK } = fs.constants;
  const fd = await new Promise<number>((resolve, reject) => fs.open(path, O_RDWR | O_NOCTTY | O_NONBLOCK, (err, n) => (err ? reject(err) : resolve(n))));
  const ctx: { code?: string } = {};
  const handle = new b.TTY(fd, ctx);
  if (ctx.code) {
    fs.closeSync(fd);
    throw Object.assign(new Error(`${path}: ${ctx.code}`), { code: ctx.code });
  }
  // libuv reopens a pty slave, dup2()s it onto our fd and keeps the new one: ours is a spare.
  if (handle.fd !== fd) fs.closeSync(fd);
  let done = false;
  const restore = () => {
    if (done) return;
    done = true;
    live.delete(restore);
    handle.setRawMode(false); // tcsetattr(saved); fails quietly (EIO) on a device already gone
    handle.close();
  };
  keepUntilExit(restore);
  // uv's raw mode, which records the current settings for setRawMode(false); ours follow at once.
  const err = handle.setRawMode(true);
  if (err) {
    handle.close();
    live.delete(restore);
    throw Object.assign(new Error(`${path}: cannot read its terminal settings (${err})`), { code: 'ENOTTY' });
  }
  try {
    await setMode(handle.fd, args);
  } catch (e) {
    restore();
    throw e;
  }
  return restore;
}

/** Restores not yet run: a second SIGTERM (exit at once) or an internal error still puts every device back. */
const live = new Set<() => void>();
function keepUntilExit(restore: () => void): void {
  if (live.size === 0 && !exitHooked) {
    exitHooked = true;
    process.once('exit', () => [...live].forEach((r) => r()));
  }
  live.add(restore);
}
let exitHooked = false;

/**
 * Without libuv's tty binding (a future Node): `stty -g`, then `stty SAVED` at restore with
 * an fd held since (never the path again: a pty that is gone leaves its /dev/pts/N to
 * somebody else's terminal).
 */
async function setSavedByStty(path: string, args: string[]): Promise<() => void> {
  const saved = await savedByStty(path);
  try {
    await setMode(saved.fd, args);
  } catch (err) {
    saved.forget();
    throw err;
  }
  return saved.restore;
}

/**
 * Saves the settings of the tty at `path` without changing them (`stty -g`), and holds an
 * fd of it for the restore. For a device that another library opens and configures
 * itself (serialport: its open makes the port raw at the speed asked for), so nothing of
 * ours may touch the settings before that open, which can still fail (a port locked by
 * another program keeps its settings). `restore` is synchronous (it runs while the stream
 * closes, also during shutdown) and runs once, at the latest when the process exits;
 * `forget` closes the fd without restoring. After either, `fd` is closed and its number
 * may belong to anything: check `closed()` before each use.
 */
export async function savedByStty(path: string): Promise<{ fd: number; restore(): void; forget(): void; closed(): boolean }> {
  const { O_RDWR, O_NOCTTY, O_NONBLOCK } = fs.constants;
  const keep = await new Promise<number>((resolve, reject) => fs.open(path, O_RDWR | O_NOCTTY | O_NONBLOCK, (err, n) => (err ? reject(err) : resolve(n))));
  // Read through our fd, not the path: the device is opened once more, not twice (a serial
  // port's last close drops DTR, which resets many boards).
  const saved = await sttyFd(keep, ['-g']).catch((err: Error) => {
    fs.closeSync(keep);
    throw err;
  });
  let done = false;
  const finish = (put: boolean) => {
    if (done) return;
    done = true;
    live.delete(restore);
    // stty as a child on our idle fd: never the path again (a device gone leaves its name to another).
    if (put) spawnSync('stty', [saved], { stdio: [keep, 'ignore', 'ignore'], timeout: 5000 });
    fs.closeSync(keep);
  };
  const restore = () => finish(true);
  keepUntilExit(restore);
  return { fd: keep, restore, forget: () => finish(false), closed: () => done };
}

/** Most devices per stty child (its fds 3…). */
const BATCH = 64;
/** Children at once: each is short, and a start of many routes must not fork-bomb the host. */
const WORKERS = 4;
const TIMEOUT_MS = 10_000;
const SAFE_WORD = /^-?[a-z0-9]+$/;

interface Job {
  fd: number;
  args: string[];
  resolve(): void;
  reject(err: Error): void;
}
const queue: Job[] = [];
let running = 0;

/** Runs `stty ARGS` on the open tty `fd` (as stdin). Requests made together share children. */
export function setMode(fd: number, args: string[]): Promise<void> {
  if (!args.every((a) => SAFE_WORD.test(a))) return Promise.reject(new Error(`stty: unexpected setting in ${args.join(' ')}`));
  return new Promise((resolve, reject) => {
    queue.push({ fd, args, resolve, reject });
    // Let the routes starting in this turn of the event loop queue theirs first.
    if (queue.length === 1) setImmediate(pump);
  });
}

function pump(): void {
  while (running < WORKERS && queue.length) {
    const batch = queue.splice(0, Math.min(BATCH, Math.ceil(queue.length / WORKERS)));
    running++;
    runBatch(batch).finally(() => {
      running--;
      pump();
    });
  }
}

/**
 * One child for the batch: stty itself for one device, a sh loop for several (each device
 * as `stty -F /dev/fd/N`: sh redirects only fds up to 9). Errors are per device.
 */
async function runBatch(batch: Job[]): Promise<void> {
  const single = batch.length === 1;
  // Only fixed stty words reach the shell (checked above); devices come in as fds, never as paths.
  // A failing stty's message comes out first, then the "!i" line that says whose it was.
  const script = batch.map((j, i) => `stty -F /dev/fd/${i + 3} ${j.args.join(' ')} 2>&1 || echo '!${i}'`).join('\n');
  const child = single
    ? spawn('stty', batch[0]!.args, { stdio: [batch[0]!.fd, 'ignore', 'pipe'] })
    : spawn('/bin/sh', ['-c', script], { stdio: ['ignore', 'pipe', 'ignore', ...batch.map((j) => j.fd)] });
  let out = '';
  (single ? child.stderr : child.stdout)!.on('data', (d: Buffer) => (out += d.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), TIMEOUT_MS);
  const code = await new Promise<number | null>((resolve) => {
    child.once('error', (err) => {
      out = `${err.message}\n`;
      resolve(-1);
    });
    child.once('close', (c) => resolve(c));
  });
  clearTimeout(timer);
  const failed = new Map<number, string>();
  if (single) {
    if (code !== 0) failed.set(0, out.trim() || `exit status ${code}`);
  } else {
    let said: string[] = [];
    for (const line of out.split('\n')) {
      const m = /^!(\d+)$/.exec(line);
      if (!m) said.push(line);
      else {
        failed.set(Number(m[1]), said.join(' ').trim() || 'failed');
        said = [];
      }
    }
    if (code !== 0) batch.forEach((_, i) => failed.has(i) || failed.set(i, out.trim() || `sh exited with status ${code}`));
  }
  batch.forEach((j, i) => {
    const why = failed.get(i);
    if (why === undefined) return j.resolve();
    const detail = why.replace(/^stty: /, '');
    j.reject(Object.assign(new Error(`stty: ${detail}`), { code: errnoFromText(detail) }));
  });
}

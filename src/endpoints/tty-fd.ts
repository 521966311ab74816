// Shared by pty: and exec: — a tty file descriptor as a non-blocking stream, and terminal settings via stty.
import { execFile, spawnSync } from 'node:child_process';
import net from 'node:net';
import tty from 'node:tty';
import { promisify } from 'node:util';

const execFileP = promisify(execFile);

interface PipeBinding {
  Pipe: new (type: number) => { open(fd: number): number };
  constants: { SOCKET: number };
}

/**
 * A net.Socket whose handle is a libuv pipe opened on a tty fd. Half-closing a tty has no
 * meaning (shutdown(2) would fail with ENOTSOCK), so `end()` only flushes.
 */
class TtySocket extends net.Socket {
  override _final(cb: (err?: Error | null) => void): void {
    cb();
  }
}

/**
 * Wraps a tty fd (pty master or slave) as a Duplex that owns the fd (destroy closes it).
 *
 * Why not tty.ReadStream: libuv cannot reopen a pty master, so it marks the handle for
 * blocking writes, which spin on EAGAIN when the other side stops reading and stall the
 * event loop. `net.Socket({fd})` refuses tty fds. A libuv pipe handle opened on the fd gives
 * what we want: epoll-driven non-blocking reads, writes that queue on EAGAIN and report
 * backpressure, and EIO/EOF when the other side goes away. Node exposes that handle only
 * through `process.binding('pipe_wrap')`; if it ever goes away we fall back to tty.ReadStream.
 * With `onChunk`, reads go to it instead of 'data' events (see chunkReads).
 */
export function ttyStream(fd: number, onChunk?: (chunk: Buffer) => boolean): net.Socket {
  let binding: PipeBinding | undefined;
  try {
    binding = (process as unknown as { binding(name: string): PipeBinding }).binding('pipe_wrap');
  } catch {
    binding = undefined;
  }
  if (binding) {
    const handle = new binding.Pipe(binding.constants.SOCKET);
    if (handle.open(fd) === 0) {
      const onread = onChunk && chunkReads(onChunk);
      const socket = new TtySocket({ handle, readable: true, writable: true, onread } as net.SocketConstructorOpts);
      // Callback reads bypass the readable side; flowing, it still reports the end of file.
      if (onread) socket.resume();
      return socket;
    }
  }
  const stream = new tty.ReadStream(fd);
  if (onChunk) {
    stream.on('data', (chunk: Buffer) => {
      if (!onChunk(chunk)) stream.pause();
    });
  }
  return stream;
}

/**
 * Reads handed straight to `onChunk` (net's `onread`); returning false stops reading until
 * `resume()`. Why: a paused socket keeps reading ahead into its own buffer, and the EIO
 * that follows a process's exit destroys the socket with that buffer unread, losing the
 * command's last output; here nothing is held between the fd and the consumer.
 */
function chunkReads(onChunk: (chunk: Buffer) => boolean): net.OnReadOpts {
  const buffer = Buffer.allocUnsafe(64 * 1024);
  return { buffer, callback: (n, into) => onChunk(Buffer.from(into.subarray(0, n))) };
}

/** Terminal settings that make a tty binary-clean: no echo, line editing, signals, CR/LF or XON/XOFF. */
export const RAW_ARGS = ['raw', '-echo', '-iexten', '-ixon', '-ixoff', 'cs8', '-parenb', '-istrip', '-opost'];

/**
 * Runs `stty -F path args…`. Node has no termios API; stty (coreutils, on every Linux) is
 * the smallest dependable tool, called with an argv and no shell. Resolves with its output.
 */
export async function stty(path: string, args: string[]): Promise<string> {
  try {
    const { stdout } = await execFileP('stty', ['-F', path, ...args], { timeout: 10_000 });
    return stdout.trim();
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    const detail = e.stderr?.trim() || e.message;
    throw Object.assign(new Error(`stty: ${detail}`), { code: errnoFromText(detail) ?? e.code });
  }
}

/** The synchronous form, for restoring settings while a stream closes during shutdown. */
export function sttySync(path: string, args: string[]): void {
  spawnSync('stty', ['-F', path, ...args], { stdio: 'ignore', timeout: 5000 });
}

/**
 * Puts the tty at `path` in raw mode (or the mode asked for) and returns a function that
 * restores the settings it had, as `stty -g` saved them.
 */
export async function makeRaw(path: string, opts: { echo: boolean }): Promise<() => void> {
  const saved = await stty(path, ['-g']);
  await stty(path, [...RAW_ARGS, ...(opts.echo ? ['echo'] : [])]);
  let restored = false;
  return () => {
    if (restored) return;
    restored = true;
    sttySync(path, [saved]);
  };
}

const ERRNO_TEXT: [RegExp, string][] = [
  [/no such file or directory/i, 'ENOENT'],
  [/permission denied/i, 'EACCES'],
  [/inappropriate ioctl|not a tty|not a typewriter/i, 'ENOTTY'],
  [/cannot lock port|device or resource busy/i, 'EBUSY'],
  [/input\/output error/i, 'EIO'],
  [/no such device/i, 'ENODEV'],
  [/invalid argument/i, 'EINVAL'],
];

/** The errno name in a C library message ("Error: No such file or directory, cannot open"). */
export function errnoFromText(text: string): string | undefined {
  return ERRNO_TEXT.find(([re]) => re.test(text))?.[1];
}

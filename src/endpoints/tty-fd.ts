// Shared by pty: and exec: — a tty file descriptor as a non-blocking stream, and terminal settings via stty.
import { execFile, spawnSync } from 'node:child_process';
import fs from 'node:fs';
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
 */
export function ttyStream(fd: number): net.Socket {
  let binding: PipeBinding | undefined;
  try {
    binding = (process as unknown as { binding(name: string): PipeBinding }).binding('pipe_wrap');
  } catch {
    binding = undefined;
  }
  if (binding) {
    const handle = new binding.Pipe(binding.constants.SOCKET);
    if (handle.open(fd) === 0) {
      const socket: net.Socket = new TtySocket({ handle, readable: true, writable: true, onread: burstReads(fd, () => socket) } as net.SocketConstructorOpts);
      return socket;
    }
  }
  return new tty.ReadStream(fd);
}

/** Bytes taken from a tty per wakeup, at most (one chunk, one frame or write downstream). */
const BURST = 64 * 1024;
/** A read at least this long found n_tty's 4 KiB buffer (nearly) full: more is probably queued behind it. */
const FULL_READ = 2048;

/**
 * `onread` options for a tty fd: read a burst per wakeup, not 4 KiB.
 *
 * A tty hands its reader at most one n_tty buffer (4 KiB) per read(2), and libuv goes back
 * to epoll after any read that did not fill its buffer: so a flood costs one wakeup, one
 * chunk, one WebSocket frame and one socket write per 4 KiB. After a full read, reading the
 * fd again at once finds the next 4 KiB (the kernel moves it from the tty's queue during the
 * read), so this reads on, into the same buffer, up to BURST, and pushes one chunk. A short
 * read (a keystroke, a prompt) ends the burst at once: nothing is held back. EAGAIN, EIO or
 * EOF end it too; libuv's own next read then sees the error or the end as before.
 */
function burstReads(fd: number, socket: () => net.Socket): net.OnReadOpts {
  let buf = Buffer.allocUnsafeSlow(BURST);
  let handedOut = false;
  return {
    buffer: () => {
      if (handedOut) {
        buf = Buffer.allocUnsafeSlow(BURST);
        handedOut = false;
      }
      return buf;
    },
    callback: (n: number) => {
      let total = n;
      let last = n;
      while (last >= FULL_READ && total < BURST) {
        try {
          last = fs.readSync(fd, buf, total, BURST - total, null);
        } catch {
          break;
        }
        total += last;
      }
      // A short chunk is copied out so that it does not pin the whole burst buffer.
      if (total < BURST / 4) return socket().push(Buffer.from(buf.subarray(0, total)));
      handedOut = true;
      return socket().push(buf.subarray(0, total));
    },
  };
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

/**
 * Puts the tty at `path` in raw mode (or the mode asked for) and returns a function that
 * restores the settings it had, as `stty -g` saved them. Call it while the caller holds the
 * tty open. The restore goes through an fd opened now, never through the path again: once a
 * pty is gone its /dev/pts/N may be somebody else's terminal, whose settings are not ours to set.
 */
export async function makeRaw(path: string, opts: { echo: boolean }): Promise<() => void> {
  const saved = await stty(path, ['-g']);
  const { O_RDWR, O_NOCTTY, O_NONBLOCK } = fs.constants;
  const keep = fs.openSync(path, O_RDWR | O_NOCTTY | O_NONBLOCK);
  try {
    await stty(path, [...RAW_ARGS, ...(opts.echo ? ['echo'] : [])]);
  } catch (err) {
    fs.closeSync(keep);
    throw err;
  }
  let restored = false;
  return () => {
    if (restored) return;
    restored = true;
    // stty without -F sets its stdin: the tty we opened, or nothing if it has hung up.
    spawnSync('stty', [saved], { stdio: [keep, 'ignore', 'ignore'], timeout: 5000 });
    fs.closeSync(keep);
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

// Shared by pty: and exec: — a tty file descriptor as a non-blocking stream, and terminal settings via stty.
import { execFile, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import tty from 'node:tty';
import { promisify } from 'node:util';
import type { LineSettings } from '../core/link.js';

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
 * With `onChunk`, reads go straight to it (returning false stops reading until `resume()`)
 * instead of into the socket's readable side. Why: a paused socket keeps reading ahead into
 * its own buffer, and the EIO that follows a process's exit destroys the socket with that
 * buffer unread, losing the command's last output; this way nothing is held in between.
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
      // Reads go to `onChunk` when given, else into the socket's readable side.
      const socket: net.Socket = new TtySocket({
        handle,
        readable: true,
        writable: true,
        onread: burstReads(fd, onChunk ?? ((c) => socket.push(c))),
      } as net.SocketConstructorOpts);
      // Callback reads bypass the readable side; flowing, it still reports the end of file.
      if (onChunk) socket.resume();
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
function burstReads(fd: number, deliver: (chunk: Buffer) => boolean): net.OnReadOpts {
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
      if (total < BURST / 4) return deliver(Buffer.from(buf.subarray(0, total)));
      handedOut = true;
      return deliver(buf.subarray(0, total));
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
 * Runs `stty args…` on a tty fd we hold (as its stdin), without opening a path: a program
 * that opened the device with TIOCEXCL does not lock us out. libuv makes an inherited
 * stdin blocking, and O_NONBLOCK belongs to the open file, shared with us: never pass an
 * fd that we read or write through libuv (a pty master); an idle slave fd is fine.
 */
export function sttyFd(fd: number, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('stty', args, { stdio: [fd, 'pipe', 'pipe'], timeout: 10_000 });
    let out = '';
    let err = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) return resolve(out.trim());
      const detail = err.trim() || `exit status ${code}`;
      reject(Object.assign(new Error(`stty: ${detail}`), { code: errnoFromText(detail) }));
    });
  });
}

/** The termios flags a serial line cares about, as `stty -a` prints them. */
export interface SttyLine {
  /** Output speed; undefined when stty printed none (never on Linux). */
  baud: number | undefined;
  dataBits: LineSettings['dataBits'];
  parenb: boolean;
  parodd: boolean;
  cmspar: boolean;
  cstopb: boolean;
  crtscts: boolean;
  ixon: boolean;
  ixoff: boolean;
}

/** Reads the line settings out of `stty -a` text ("speed 57600 baud; … -parenb parodd … cs8 … cstopb"). */
export function parseSttyLine(all: string): SttyLine {
  const has = (flag: string) => new RegExp(`(^|\\s)${flag}(\\s|;|$)`).test(all);
  // Split speeds print "ispeed 9600 baud; ospeed 57600 baud": the output speed is the line's.
  const speed = /(?:^|\s)(?:o?speed) (\d+) baud/.exec(all);
  const size = /(^|\s)cs([5-8])(\s|$)/.exec(all)?.[2];
  return {
    baud: speed ? Number(speed[1]) : undefined,
    dataBits: Number(size ?? 8) as LineSettings['dataBits'],
    parenb: has('parenb'),
    parodd: has('parodd'),
    cmspar: has('cmspar'),
    cstopb: has('cstopb'),
    crtscts: has('crtscts'),
    ixon: has('ixon'),
    ixoff: has('ixoff'),
  };
}

/** The flow control that termios flags make: hardware wins, as the serial driver does. */
export function flowOf(t: SttyLine): NonNullable<LineSettings['flow']> {
  return t.crtscts ? 'rtscts' : t.ixon || t.ixoff ? 'xonxoff' : 'none';
}

/** stty arguments for a flow control. */
export function sttyFlow(flow: NonNullable<LineSettings['flow']>): string[] {
  return { none: ['-crtscts', '-ixon', '-ixoff'], rtscts: ['crtscts', '-ixon', '-ixoff'], xonxoff: ['-crtscts', 'ixon', 'ixoff'] }[flow];
}

/** stty arguments for a framing: data bits, parity, stop bits. */
export function sttyFraming(l: Pick<LineSettings, 'dataBits' | 'parity' | 'stopBits'>): string[] {
  const parity = {
    none: ['-parenb', '-cmspar'],
    even: ['parenb', '-parodd', '-cmspar'],
    odd: ['parenb', 'parodd', '-cmspar'],
    mark: ['parenb', 'parodd', 'cmspar'],
    space: ['parenb', '-parodd', 'cmspar'],
  }[l.parity];
  // Linux has no 1.5 stop bits setting apart from 2 (the UART uses 1.5 with 5 data bits).
  return [`cs${l.dataBits}`, ...parity, l.stopBits === 1 ? '-cstopb' : 'cstopb'];
}

/** The synchronous form, for restoring settings while a stream closes during shutdown. */
export function sttySync(path: string, args: string[]): void {
  spawnSync('stty', ['-F', path, ...args], { stdio: 'ignore', timeout: 5000 });
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

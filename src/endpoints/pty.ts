// pty: — an existing pty slave (QEMU's "char device redirected to /dev/pts/N"), or a new pty pair whose slave other programs open.
import type { OptionsOf } from '../core/option-schema.js';
import fs from 'node:fs';
import tty from 'node:tty';
import { UsageError } from '../errors.js';
import { loadPtyNative } from '../native.js';
import { fileMode, flag, text, defineOptions } from '../options.js';
import { quoteUri } from '../uri.js';
import { hubOptions, screenOptions } from './hub-options.js';
import { setMode, setSaved } from './termios.js';
import { watchSlaveLine } from './pty-line-watch.js';
import { RAW_ARGS, ttyStream } from './tty-fd.js';
import { linkIdentity, reopenAfterLoss, type LinkIdentity } from './tty-identity.js';
import type { ConnectingType, OpenContext } from '../core/endpoint.js';
import type { DeviceLink, PipeEnd } from '../core/link.js';

const ptyOptions = defineOptions({
  link: text(undefined, 'new pair only: make a symlink to the slave at this path (socat link=, remserial -l); removed on exit', 'a path'),
  mode: fileMode('new pair only: permissions of the slave device (default: as the system makes it)'),
  raw: flag(true, 'raw mode, binary-clean: no echo, line editing, signals, CR/LF or XON/XOFF translation; raw=false leaves the settings alone'),
  echo: flag(false, 'with raw: echo input back, like a terminal in cooked mode would'),
  'line-watch': flag(
    true,
    'new pair only: a virtual serial port: the speed, stop bits, parity and flow control a program sets on the slave go to the peer (tcp:…?telnet as RFC 2217, serial:), and the slave shows what is in force there; read with stty every 0.2-1 s while joined to such a peer; false: not read',
  ),
  ...hubOptions,
  ...screenOptions,
});

type PtyOptions = OptionsOf<typeof ptyOptions>;

/** `path` is the slave to open; undefined asks for a new pair. */
export interface PtyTarget {
  path: string | undefined;
}

export const pty: ConnectingType<PtyTarget, typeof ptyOptions> = {
  scheme: 'pty',
  role: 'connecting',
  sharing: 'device',
  summary: 'an existing pty slave (a VM serial console), or a new pty pair when no path is given',
  targetForm: '[/dev/pts/N]',
  examples: [
    'ptybridge pty:/dev/pts/4 tcp-listen:23000          # the pty QEMU printed, on TCP',
    'ptybridge pty:?link=/tmp/ttyV0 tcp:host:23000      # a local serial-like device for a remote port',
  ],
  notes: [
    'A new pair is a virtual serial port: with a serial: or tcp:…?telnet (RFC 2217) peer, the speed, stop bits, parity and flow control a program sets on the slave reach the far port, and the slave shows what is in force there. A pty cannot hold even parity, 5-7 data bits, modem lines or BREAK (Linux forces cs8 -parenb on a pty).',
  ],
  options: ptyOptions,
  parseTarget(target, uri) {
    if (target === '') return { path: undefined };
    if (target.includes('\0')) throw new UsageError(`${quoteUri(uri)}: a path cannot contain a NUL byte`);
    return { path: target };
  },
  neverWaitFor(spec) {
    const { path } = spec.target;
    if (path === undefined || !/^\/dev\/pts\/\d+$/.test(path)) return undefined;
    return "a numbered pty is not waited for: the kernel gives its number to the next terminal opened, which would be somebody else's; give a path its owner makes (QEMU: -chardev pty,path=/run/vm1.pty) to wait for it";
  },
  validate(spec) {
    // An option that cannot take effect is refused, not ignored (the rule of src/main.ts).
    const idle = spec.target.path === undefined ? undefined : spec.options.link !== undefined ? 'link' : spec.options.mode !== undefined ? 'mode' : undefined;
    if (idle) throw new UsageError(`${quoteUri(spec.uri)}: option "${idle}" has no effect with a path: it applies to a new pair (pty: with no path)`);
  },
  async open(spec, ctx) {
    const { path } = spec.target;
    if (path === undefined) return openPair(spec.options, ctx);
    return openSlave(path, spec.options);
  },
};

/** Opens an existing tty (a pty slave someone else holds the master of) in raw mode. */
async function openSlave(path: string, options: PtyOptions): Promise<DeviceLink> {
  const { fd, real, link } = await openThroughLink(path);
  let restore = () => {};
  try {
    if (!isTty(fd)) throw Object.assign(new Error(`${path} is not a terminal`), { code: 'ENOTTY' });
    if (options.raw) restore = await setSaved(real, rawArgs(options));
  } catch (err) {
    fs.closeSync(fd);
    throw err;
  }
  const stream = ttyStream(fd);
  stream.once('close', restore);
  return { stream, label: `pty ${path}`, reopen: reopenAfterLoss(path, real, link) };
}

/**
 * Opens the node `path` leads to, and reads what it is: the real node (the settings are restored
 * on the device we changed) and, for a symlink, the link we followed — read before and after
 * the open, so that a link re-made meanwhile is never taken for the one we opened.
 */
async function openThroughLink(path: string): Promise<{ fd: number; real: string; link: LinkIdentity | undefined }> {
  for (let attempt = 0; ; attempt++) {
    const before = await linkIdentity(path);
    const real = await fs.promises.realpath(path);
    const fd = await openFd(real);
    const after = await linkIdentity(path);
    if (before?.id === after?.id || attempt === 2) return { fd, real, link: after && { ...after, target: real } };
    fs.closeSync(fd);
  }
}

/** Creates a pty pair: we serve the master; other programs open the slave as a serial port. */
async function openPair(options: PtyOptions, ctx: OpenContext): Promise<PipeEnd> {
  const native = loadPtyNative();
  const { master, slave, pty: slavePath } = native.open(80, 24);
  let linked = false;
  const cleanup = () => {
    try {
      fs.closeSync(slave);
    } catch {}
    if (linked && options.link) {
      try {
        if (fs.readlinkSync(options.link) === slavePath) fs.unlinkSync(options.link);
      } catch {}
    }
  };
  try {
    if (options.mode !== undefined) await fs.promises.chmod(slavePath, options.mode);
    if (options.raw) await setMode(slave, rawArgs(options));
    if (options.link) {
      await makeLink(slavePath, options.link);
      linked = true;
    }
  } catch (err) {
    cleanup();
    fs.closeSync(master);
    throw err;
  }
  // We keep our own slave fd open (never read): without it the master reads EIO (and epoll
  // reports a hangup) whenever no program has the slave open, so the device would flap
  // each time a client such as pyserial closes it.
  const stream = ttyStream(master);
  stream.once('close', cleanup);
  const label = `pty ${options.link ?? slavePath}`;
  if (options['line-watch']) watchSlaveLine(slave, stream, label, ctx.log);
  ctx.log.warn(`pty ${slavePath} ready${options.link ? ` (link ${options.link})` : ''}`);
  return {
    stream,
    label,
    resize: (cols, rows) => native.resize(master, cols, rows),
  };
}

/** A symlink to the slave; a stale symlink left by an earlier run is replaced, anything else is not. */
async function makeLink(target: string, link: string): Promise<void> {
  try {
    await fs.promises.symlink(target, link);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    const st = await fs.promises.lstat(link);
    if (!st.isSymbolicLink()) throw Object.assign(new Error(`${link} exists and is not a symlink`), { code: 'EEXIST' });
    await fs.promises.unlink(link);
    await fs.promises.symlink(target, link);
  }
}

/** The stty words of `raw` (and `echo`). */
const rawArgs = (o: PtyOptions) => [...RAW_ARGS, ...(o.echo ? ['echo'] : [])];

function openFd(path: string): Promise<number> {
  const { O_RDWR, O_NOCTTY, O_NONBLOCK } = fs.constants;
  return new Promise((resolve, reject) => fs.open(path, O_RDWR | O_NOCTTY | O_NONBLOCK, (err, fd) => (err ? reject(err) : resolve(fd))));
}

function isTty(fd: number): boolean {
  return tty.isatty(fd);
}

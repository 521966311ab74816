// serial: — a serial port (ser2net, remserial) through serialport: line settings, flow control, lock, BREAK and modem lines.
import type { OptionsOf } from '../core/option-schema.js';
import fs from 'node:fs';
import { UsageError } from '../errors.js';
import { loadSerialPort } from '../native.js';
import { defineOptions, flag, oneOf, optionalInt, parsed } from '../options.js';
import { quoteUri } from '../uri.js';
import { hubOptions, screenOptions } from './hub-options.js';
import { savedByStty } from './termios.js';
import { pollEveryWaiter } from './serial-poller.js';
import { errnoFromText, flowOf, parseSttyLine, sttyFd, sttyFlow, sttyFraming } from './tty-fd.js';
import { linkIdentity, reopenAfterLoss } from './tty-identity.js';
import type { ConnectingType } from '../core/endpoint.js';
import type { DeviceLink, LineSettings, ModemSettings } from '../core/link.js';

const PARITIES = ['none', 'even', 'odd', 'mark', 'space'] as const;
const PARITY_LETTER: Record<string, LineSettings['parity']> = { n: 'none', e: 'even', o: 'odd', m: 'mark', s: 'space' };
const DEFAULT_LINE: LineSettings = { baud: 9600, dataBits: 8, parity: 'none', stopBits: 1 };

/** `9600`, `9600,8n1`, `115200,7e2`, `8n1.5` — the remserial/ser2net-style shorthand. */
export function parseLineShorthand(text: string): Partial<LineSettings> | undefined {
  const m = /^(?:(\d+))?(?:^|,)?(?:([5-8])([neoms])(1\.5|1|2))?$/i.exec(text.trim());
  if (!m || (!m[1] && !m[2])) return undefined;
  const out: Partial<LineSettings> = {};
  if (m[1]) {
    const baud = Number(m[1]);
    if (baud < 1 || baud > 20_000_000) return undefined;
    out.baud = baud;
  }
  if (m[2]) {
    out.dataBits = Number(m[2]) as LineSettings['dataBits'];
    out.parity = PARITY_LETTER[m[3]!.toLowerCase()]!;
    out.stopBits = Number(m[4]) as LineSettings['stopBits'];
  }
  return out;
}

const serialOptions = defineOptions({
  baud: optionalInt(1, 20_000_000, 'bits per second (default 9600)'),
  dataBits: parsed('5|6|7|8', 'bits per character (default 8)', (r) =>
    ['5', '6', '7', '8'].includes(r) ? (Number(r) as LineSettings['dataBits']) : undefined,
  ),
  parity: parsed(PARITIES.join('|'), 'parity (default none)', (r) => ((PARITIES as readonly string[]).includes(r) ? (r as LineSettings['parity']) : undefined)),
  stopBits: parsed('1|1.5|2', 'stop bits (default 1)', (r) => (['1', '1.5', '2'].includes(r) ? (Number(r) as LineSettings['stopBits']) : undefined)),
  line: parsed(
    'BAUD[,DPS] such as 115200,8n1 or 9600,7e1, instead of baud/dataBits/parity/stopBits',
    'all line settings at once, remserial/ser2net style: baud, then data bits, parity (n e o m s), stop bits',
    parseLineShorthand,
  ),
  flow: oneOf(['none', 'rtscts', 'xonxoff'], 'none', 'flow control: none, hardware (RTS/CTS) or software (XON/XOFF)'),
  lock: flag(true, 'lock the port (flock) so that a second program cannot use it at the same time'),
  ...hubOptions,
  ...screenOptions,
});

type SerialOptions = OptionsOf<typeof serialOptions>;

function lineOf(o: SerialOptions): LineSettings {
  return {
    ...DEFAULT_LINE,
    flow: o.flow,
    ...o.line,
    ...(o.baud !== undefined && { baud: o.baud }),
    ...(o.dataBits && { dataBits: o.dataBits }),
    ...(o.parity && { parity: o.parity }),
    ...(o.stopBits && { stopBits: o.stopBits }),
  };
}

export const serial: ConnectingType<{ path: string }, typeof serialOptions> = {
  scheme: 'serial',
  role: 'connecting',
  sharing: 'device',
  summary: 'a serial port, shared by every peer behind a listener (ser2net, conserver)',
  targetForm: '/dev/ttyXXX',
  examples: ['ptybridge serial:/dev/ttyUSB0?baud=115200 tcp-listen:0.0.0.0:23000', "ptybridge 'serial:/dev/ttyS0?line=9600,7e1&flow=rtscts' -"],
  notes: [
    'Behind tcp-listen:?telnet, RFC 2217 clients get the modem lines (CTS, DSR, CD) as',
    'NOTIFY-MODEMSTATE: at once, then when one changes (read every second while a client',
    'watches). RI is always reported off (serialport does not read it); a pty has no modem',
    'lines at all, so every line reads off.',
  ],
  options: serialOptions,
  parseTarget(target, uri) {
    if (target === '') throw new UsageError(`${quoteUri(uri)}: missing target: expected serial:/dev/ttyXXX`);
    if (target.includes('\0')) throw new UsageError(`${quoteUri(uri)}: a path cannot contain a NUL byte`);
    return { path: target };
  },
  validate({ uri, options: o }) {
    if (o.line && (o.baud !== undefined || o.dataBits !== undefined || o.parity !== undefined || o.stopBits !== undefined)) {
      throw new UsageError(`${quoteUri(uri)}: options "line" and baud/dataBits/parity/stopBits: give one or the other, not both`);
    }
  },
  async open(spec) {
    const o = spec.options;
    const path = spec.target.path;
    let line = lineOf(o);
    const { SerialPort } = loadSerialPort();
    const port = new SerialPort({
      path,
      baudRate: line.baud,
      dataBits: line.dataBits,
      parity: line.parity,
      stopBits: line.stopBits,
      rtscts: o.flow === 'rtscts',
      xon: o.flow === 'xonxoff',
      xoff: o.flow === 'xonxoff',
      lock: o.lock,
      autoOpen: false,
    });
    // Read before the open: a serial port on a pty (/dev/pts/N) must not be reopened onto another terminal.
    const followed = await linkIdentity(path);
    const real = await fs.promises.realpath(path).catch(() => path);
    // The settings before ours, put back when the port closes (SIGTERM, reload, loss), as pty: does.
    const saved = await savedByStty(real).catch((err: Error) => Promise.reject(osError(err)));
    try {
      await new Promise<void>((resolve, reject) => port.open((err) => (err ? reject(osError(err)) : resolve())));
    } catch (err) {
      saved.forget();
      throw err;
    }
    port.once('close', saved.restore);
    // Without it a write can wait forever for a drain that was never watched (serial-poller.ts).
    pollEveryWaiter(port.port);
    // serialport only reports errors as text; give them the errno name the CLI prints.
    port.on('error', () => {});
    // A port that hangs up (USB adapter unplugged, pty master closed) is closed by serialport
    // itself, and the write then in flight fails with a code-less "bad file descriptor": the
    // log said "lost: bad file descriptor" as if ptybridge had misused the fd. Say what happened.
    port.prependListener('error', (err: NodeJS.ErrnoException) => {
      if (!err.code && (port.closing || !port.isOpen)) err.message = `disconnected (the device hung up: ${err.message})`;
    });
    let modem: ModemSettings = { dtr: true, rts: true };
    /** stty on our fd of the port; never once it is closed (its number may be another file's by then). */
    const tty = (args: string[]) =>
      saved.closed() ? Promise.reject(Object.assign(new Error('the port is closed'), { code: 'EBADF' })) : sttyFd(saved.fd, args);
    const link: DeviceLink = {
      stream: port,
      label: `serial ${path}`,
      reopen: reopenAfterLoss(path, real, followed),
      async setLine(change) {
        const want = { ...line, ...change };
        // Never serialport's update(): it flushes both queues (TCIOFLUSH) before the new speed,
        // and every speed change lost up to a tty buffer each way. stty sets the line with
        // TCSADRAIN (what was written leaves first, nothing read is discarded), as ser2net
        // does, through our own fd of the port. RFC 2217 PURGE-DATA is the only flush.
        const speed = want.baud !== line.baud ? [String(want.baud)] : [];
        const flow = want.flow !== line.flow && want.flow ? sttyFlow(want.flow) : [];
        const framing =
          want.dataBits !== line.dataBits || want.parity !== line.parity || want.stopBits !== line.stopBits || flow.length
            ? [...sttyFraming(want), ...flow]
            : [];
        if (speed.length || framing.length) {
          await tty([...speed, ...framing]).catch(async (err: Error) => {
            // A driver may refuse part of it (a pty forces cs8 -parenb): stty then reports
            // "unable to perform all requested operations"; what it kept is read back below.
            if (/unable to perform all requested/.test(err.message)) return;
            // stty knows the standard speeds only: another one goes through serialport (termios2), flush included.
            if (!speed.length || !/invalid argument/.test(err.message)) throw err;
            await port.port!.update({ baudRate: want.baud }).catch((e: Error) => Promise.reject(osError(e)));
            if (framing.length) await tty(framing).catch((e: Error) => (/unable to perform all requested/.test(e.message) ? undefined : Promise.reject(e)));
          });
        }
        line = await readLine(tty, want);
        return line;
      },
      async setModem(change) {
        if (change.dtr !== undefined || change.rts !== undefined) {
          const want = { dtr: change.dtr ?? modem.dtr, rts: change.rts ?? modem.rts };
          await port
            .port!.set({ dtr: want.dtr ?? true, rts: want.rts ?? true, brk: false, cts: false, dsr: false, lowLatency: false })
            .catch((e: Error) => Promise.reject(osError(e)));
          modem = want;
        }
        // The input lines (TIOCMGET): a pty has none and refuses (ENOTTY); then they are unknown.
        const lines = await port.port!.get().catch(() => undefined);
        return lines ? { ...modem, cts: lines.cts, dsr: lines.dsr, dcd: lines.dcd } : { ...modem };
      },
      async sendBreak(ms) {
        const flags = { dtr: modem.dtr ?? true, rts: modem.rts ?? true, cts: false, dsr: false, lowLatency: false };
        await port.port!.set({ ...flags, brk: true }).catch((e: Error) => Promise.reject(osError(e)));
        await new Promise((r) => setTimeout(r, Math.max(0, Math.min(ms, 10_000))));
        await port.port!.set({ ...flags, brk: false }).catch((e: Error) => Promise.reject(osError(e)));
      },
    };
    return link;
  },
};

/** Reads back the settings really in force (a driver may round the baud or refuse a framing). */
async function readLine(tty: (args: string[]) => Promise<string>, asked: LineSettings): Promise<LineSettings> {
  const t = parseSttyLine(await tty(['-a']));
  const parity: LineSettings['parity'] = !t.parenb ? 'none' : t.cmspar ? (t.parodd ? 'mark' : 'space') : t.parodd ? 'odd' : 'even';
  const stopBits: LineSettings['stopBits'] = t.cstopb ? (asked.stopBits === 1.5 ? 1.5 : 2) : 1;
  return { baud: t.baud ?? asked.baud, dataBits: t.dataBits, parity, stopBits, flow: flowOf(t) };
}

function osError(err: Error): Error {
  const code = (err as NodeJS.ErrnoException).code ?? errnoFromText(err.message);
  const text = err.message.replace(/^Error:?\s*/, '');
  if (code === 'EBUSY' && /lock/i.test(err.message)) return Object.assign(new Error('port is in use by another program (locked)'), { code });
  return Object.assign(new Error(text), { code });
}

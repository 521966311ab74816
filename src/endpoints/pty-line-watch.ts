// A virtual serial port's line: settings a program sets on a new pty's slave go to the peer as line controls, and what is in force there is written back.
import type { Duplex } from 'node:stream';
import type { Logger } from '../log.js';
import type { Control, LineSettings } from '../core/link.js';
import { flowOf, parseSttyLine, sttyFd, sttyFlow } from './tty-fd.js';

/**
 * What a pty slave's termios can hold of a serial line. Linux forces `cs8 -parenb` on every
 * tcsetattr of a pty (drivers/tty/pty.c, pty_set_termios), before anyone can see the request:
 * character size and even parity never reach us. PARODD and CMSPAR stay, so odd, mark and
 * space parity can be told from none; even parity looks like none.
 */
export interface SlaveLine {
  baud: number;
  stopBits: 1 | 2;
  parity: 'none' | 'odd' | 'mark' | 'space';
  flow: NonNullable<LineSettings['flow']>;
}

/**
 * How often the slave's settings are read. Node cannot ioctl and our addons expose no
 * TIOCPKT, so a slave's tcsetattr is not reported to us: we run `stty -a` on our fd of the slave
 * (about 1 ms of our CPU and 2 ms of stty's per read). Fast while bytes move or just after a
 * change, slow when the line is quiet, and not at all when nothing can take a line control.
 */
export const POLL = { activeMs: 200, idleMs: 1000, activeForMs: 5000 };

/** The slave's line as `stty -a` shows it. */
export function slaveLineOf(sttyText: string): SlaveLine | undefined {
  const t = parseSttyLine(sttyText);
  if (t.baud === undefined) return undefined;
  const parity = t.parodd ? (t.cmspar ? 'mark' : 'odd') : t.cmspar ? 'space' : 'none';
  return { baud: t.baud, stopBits: t.cstopb ? 2 : 1, parity, flow: flowOf(t) };
}

/** What a pty can show of settings in force elsewhere (even parity shows as none); a flow control the peer did not tell stays as `slave` has it. */
export function asSlaveLine(l: LineSettings, slave: SlaveLine): SlaveLine {
  const parity = l.parity === 'even' ? 'none' : l.parity;
  return { baud: l.baud, stopBits: l.stopBits === 1 ? 1 : 2, parity, flow: l.flow ?? slave.flow };
}

/** The fields of `now` that differ from `was`, or undefined when none does. */
export function lineChanges(now: SlaveLine, was: SlaveLine): Partial<LineSettings> | undefined {
  const out: Partial<LineSettings> = {};
  if (now.baud !== was.baud) out.baud = now.baud;
  if (now.stopBits !== was.stopBits) out.stopBits = now.stopBits;
  if (now.parity !== was.parity) out.parity = now.parity;
  if (now.flow !== was.flow) out.flow = now.flow;
  return Object.keys(out).length ? out : undefined;
}

/**
 * stty arguments that put the fields `change` names (from `l`) on a slave, and nothing else:
 * a field a program changes at the same moment is left alone. Never `parenb` or `cs7`,
 * which the kernel would refuse and stty report as a failure.
 */
export function slaveSttyArgs(l: SlaveLine, change: Partial<LineSettings>): string[] {
  const parity = { none: ['-parodd', '-cmspar'], odd: ['parodd', '-cmspar'], mark: ['parodd', 'cmspar'], space: ['-parodd', 'cmspar'] }[l.parity];
  return [
    ...(change.baud !== undefined ? [String(l.baud)] : []),
    ...(change.parity !== undefined ? parity : []),
    ...(change.stopBits !== undefined ? [l.stopBits === 2 ? 'cstopb' : '-cstopb'] : []),
    ...(change.flow !== undefined ? sttyFlow(l.flow) : []),
  ];
}

export function describeLine(l: Partial<LineSettings>): string {
  const parts = [];
  if (l.baud !== undefined) parts.push(`${l.baud} baud`);
  if (l.dataBits !== undefined) parts.push(`${l.dataBits} data bits`);
  if (l.parity !== undefined) parts.push(`parity ${l.parity}`);
  if (l.stopBits !== undefined) parts.push(`${l.stopBits} stop bit${l.stopBits === 1 ? '' : 's'}`);
  if (l.flow !== undefined) parts.push(`flow control ${l.flow}`);
  return parts.join(', ') || 'nothing';
}

/**
 * Watches the line settings of a pty's slave through `slaveFd`, our own idle fd of it (never
 * the master `stream` reads: see sttyFd). The first time something can take a line control
 * (the router joined us to a serial: or a tcp:?telnet link), the slave is given the settings in force at the peer, so
 * a program that opens it reads the truth; after that, each change a program makes is sent
 * as a `line` control, and the answer (what the far port really took) is written back.
 * Returns a function that stops watching; closing the stream stops it too.
 */
export function watchSlaveLine(slaveFd: number, stream: Duplex, label: string, log: Logger): () => void {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  /** What the slave showed after our last look or our last write. */
  let known: SlaveLine | undefined;
  /** As we set the slave up at open: a program that changed nothing yet leaves it so. */
  let opened: SlaveLine | undefined;
  let synced = false;
  let lastBusy = 0;
  let counts = '';
  const sock = stream as Duplex & { bytesRead?: number; bytesWritten?: number };

  const read = async () => (stream.destroyed ? undefined : slaveLineOf(await sttyFd(slaveFd, ['-a'])));
  const write = async (l: SlaveLine, change: Partial<LineSettings>) => {
    if (!stream.destroyed) await sttyFd(slaveFd, slaveSttyArgs(l, change));
  };
  /** Asks the peer; undefined when it has no line or the change failed. `sync`: it answered at once (no line there). */
  const ask = (line: Partial<LineSettings>) =>
    new Promise<{ inForce: LineSettings | undefined; sync: boolean }>((resolve) => {
      let asking = true;
      const c: Control = { type: 'line', line, reply: (inForce) => resolve({ inForce, sync: asking }) };
      if (!stream.emit('control', c)) resolve({ inForce: undefined, sync: true });
      asking = false;
    });

  /** Writes what the peer has in force onto the slave, unless a program changed the slave meanwhile. */
  const writeBack = async (inForce: LineSettings, seen: SlaveLine) => {
    const now = await read();
    if (!now || lineChanges(now, seen)) {
      known = seen; // a program changed it again: the next step sends that
      return;
    }
    const shown = asSlaveLine(inForce, now);
    const change = lineChanges(shown, now);
    known = now;
    if (!change) return;
    try {
      await write(shown, change);
      // Not read back: a program's change that lands meanwhile must still look like one.
      known = shown;
    } catch (err) {
      log.warn(`${label}: cannot show the line in force (${describeLine(inForce)}) on the slave: ${(err as Error).message}`);
    }
  };

  const step = async (): Promise<boolean> => {
    const now = await read();
    if (!now) return false;
    if (!opened) opened = now;
    if (!synced) {
      synced = true;
      const change = lineChanges(now, opened);
      if (!change) {
        // Nobody has set the line yet: start from what the far port has in force.
        const { inForce, sync } = await ask({});
        if (!inForce) return !sync;
        log.info(`${label}: line in force at the peer: ${describeLine(inForce)}`);
        await writeBack(inForce, now);
        return true;
      }
      known = opened;
    }
    const change = lineChanges(now, known ?? now);
    known = now;
    if (!change) return true;
    lastBusy = Date.now();
    log.info(`${label}: a program set ${describeLine(change)}`);
    const { inForce, sync } = await ask(change);
    if (!inForce) return !sync;
    const refused = lineChanges(asSlaveLine(inForce, now), now);
    if (refused) log.info(`${label}: the peer has ${describeLine(inForce)} in force, not ${describeLine(change)}: shown on the slave`);
    await writeBack(inForce, now);
    return true;
  };

  const tick = async () => {
    timer = undefined;
    if (stopped || stream.destroyed) return;
    let again = true;
    // In a hub nothing takes the device's controls: then there is nothing to read for.
    if (stream.listenerCount('control') > 0) {
      try {
        again = await step();
      } catch (err) {
        if (!stopped && !stream.destroyed) log.debug(`${label}: reading the line settings: ${(err as Error).message}`);
      }
    } else if (!opened) {
      opened = await read().catch(() => undefined);
    }
    if (!again) {
      log.debug(`${label}: the peer takes no line settings; not watching the slave's`);
      return;
    }
    const moved = `${sock.bytesRead ?? 0}/${sock.bytesWritten ?? 0}`;
    if (moved !== counts) lastBusy = Date.now();
    counts = moved;
    if (!stopped) {
      timer = setTimeout(tick, Date.now() - lastBusy < POLL.activeForMs ? POLL.activeMs : POLL.idleMs);
      timer.unref();
    }
  };
  const stop = () => {
    stopped = true;
    if (timer) clearTimeout(timer);
  };
  stream.once('close', stop);
  void tick();
  return stop;
}

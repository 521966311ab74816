// Wraps a byte-stream Link in telnet (?telnet): escaping both ways, option negotiation, NAWS and RFC 2217.
import { Duplex } from 'node:stream';
import type { ByteStream, Control, LineSettings, ModemSettings, PipeEnd } from '../core/link.js';
import type { Logger } from '../log.js';
import { AYT, BRK, IAC, Negotiator, OPT, TelnetParser, escapeData, subnegotiation, type Verb } from './telnet.js';
import { CPO, CTL, LINE_COMMANDS, SERVER, controlGroup, decodeLineValue, encodeLineValue, flowControlValue, flowOfControl, type LineKey } from './rfc2217.js';

declare const PTYBRIDGE_VERSION: string;
const SIGNATURE = `ptybridge ${typeof PTYBRIDGE_VERSION === 'string' ? PTYBRIDGE_VERSION : 'dev'}`;
/** How long a BREAK lasts when the peer sent telnet BRK (no duration in the protocol). */
const BRK_MS = 250;
/** How long the client side waits for an RFC 2217 answer. */
const ANSWER_MS = 3000;
/** How long our data waits for the peer to answer the opening negotiation. */
const NEGOTIATION_MS = 1000;
/** How often the device's modem lines are read while an RFC 2217 client watches them (ser2net reads them each second too). */
const MODEM_POLL_MS = 1000;
/**
 * Data goes to the socket in pieces of at most this much, one at a time; protocol bytes
 * (an RFC 2217 answer, a negotiation) go at once, so they wait behind one piece at most,
 * not behind a flood queued in the socket (a far port's answers timed out under load).
 */
const DATA_PIECE = 16 * 1024;

/**
 * The telnet layer as a Duplex: what is written is escaped and sent; what is read is the
 * peer's data with telnet commands removed. Controls the peer asks for (NAWS resize,
 * RFC 2217 line/modem/BREAK) are emitted as `control` events for the router.
 */
class TelnetStream extends Duplex {
  readonly parser: TelnetParser;
  readonly neg: Negotiator;
  /** RFC 2217 FLOWCONTROL-SUSPEND holds our output here until RESUME. */
  private held?: () => void;
  private suspended = false;
  private sawEnd = false;
  /**
   * Our data waits until the peer has answered WILL BINARY: RFC 856 switches the sender's
   * mode when the DO arrives, and a CR sent before that would be read in the wrong mode.
   * A peer that never answers (a raw TCP client) gets our data after NEGOTIATION_MS.
   */
  private negotiated = false;
  /** Set while the reader wants no more (push said so): the socket is paused until _read. */
  private readerFull = false;
  /** Set while the peer has not taken what we owe it: its socket is not read meanwhile. */
  private owing = false;
  /** Escaped data not yet handed to the socket, each piece whole (an IAC pair is never split), and the write that waits for it. */
  private readonly pieces: Buffer[] = [];
  private piecesDone: ((err?: Error | null) => void) | undefined;
  private pieceInFlight = false;

  constructor(
    readonly sock: Duplex,
    private readonly role: 'server' | 'client',
    private readonly onSub: (option: number, data: Buffer) => void,
    private readonly onCommand: (cmd: number) => void,
    onChange: (side: 'us' | 'him', option: number, on: boolean) => void,
  ) {
    super({ allowHalfOpen: true });
    const local = [OPT.BINARY, OPT.SGA, OPT.COM_PORT, ...(role === 'server' ? [OPT.ECHO] : [OPT.NAWS])];
    const remote = [OPT.BINARY, OPT.SGA, OPT.COM_PORT, ...(role === 'server' ? [OPT.NAWS] : [OPT.ECHO])];
    this.neg = new Negotiator(
      { local, remote },
      (b) => this.raw(b),
      (side, option, on) => {
        if (option === OPT.BINARY && side === 'him') this.parser.binary = on;
        onChange(side, option, on);
      },
    );
    // Data found in one socket chunk goes out as one piece (a copy: the parser hands out
    // views of the socket's chunk); anything else the peer sent is acted on in its place.
    let pending: Buffer[] = [];
    const flush = () => {
      if (!pending.length) return;
      const data = Buffer.concat(pending);
      pending = [];
      if (!this.push(data)) {
        this.readerFull = true;
        sock.pause();
      }
    };
    this.parser = new TelnetParser({
      data: (bytes) => pending.push(bytes),
      command: (cmd) => (flush(), this.onCommand(cmd)),
      negotiate: (verb: Verb, option) => (flush(), this.neg.receive(verb, option)),
      sub: (option, data) => (flush(), this.onSub(option, data)),
    });
    sock.on('data', (c: Buffer) => {
      this.parser.feed(c);
      flush();
      if (!this.negotiated && !this.neg.pending('us', OPT.BINARY)) this.settle();
      this.checkOwing();
    });
    setTimeout(() => this.settle(), NEGOTIATION_MS).unref();
    sock.on('end', () => {
      this.sawEnd = true;
      this.push(null);
    });
    sock.on('error', (err) => this.destroy(err));
    sock.on('close', () => {
      if (!this.sawEnd) this.destroy();
    });
  }

  /**
   * Every command a peer sends may be answered (AYT, DO, WILL, a COM-PORT request): a peer
   * that sends them without reading the answers would have us queue them without end. So,
   * as a socket does for data, its input waits while it owes us a drain: what is queued
   * for it stays within the socket's high-water mark plus the answers to one read. Only a
   * server's peers are strangers; a server we connect to is read whatever it owes.
   */
  private checkOwing(): void {
    if (this.role !== 'server' || this.owing || !this.sock.writableNeedDrain || this.sock.destroyed) return;
    this.owing = true;
    this.sock.pause();
    this.sock.once('drain', () => {
      this.owing = false;
      if (!this.readerFull) this.sock.resume();
    });
  }

  /** Sends telnet protocol bytes (never escaped again). */
  raw(b: Buffer): void {
    if (!this.sock.destroyed && this.sock.writable) this.sock.write(b);
  }

  private settle(): void {
    this.negotiated = true;
    this.suspend(this.suspended);
  }

  suspend(on: boolean): void {
    this.suspended = on;
    if (!on && this.negotiated && this.held) {
      const go = this.held;
      this.held = undefined;
      go();
    }
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    const send = () => {
      if (this.sock.destroyed) return cb(new Error('socket closed'));
      // Escaped piece by piece: protocol bytes may then go between two pieces, never inside an IAC pair.
      const binary = this.neg.enabled('us', OPT.BINARY);
      for (let at = 0; at < chunk.length; at += DATA_PIECE) this.pieces.push(escapeData(chunk.subarray(at, at + DATA_PIECE), binary));
      this.piecesDone = cb;
      this.nextPiece();
    };
    if (this.suspended || !this.negotiated) this.held = send;
    else send();
  }

  /** Hands the socket one piece of data once it has taken the previous one (not merely buffered it). */
  private nextPiece(): void {
    if (this.pieceInFlight) return;
    const piece = this.pieces.shift();
    if (!piece) {
      const done = this.piecesDone;
      this.piecesDone = undefined;
      return done?.();
    }
    if (this.sock.destroyed || !this.sock.writable) {
      this.pieces.length = 0;
      const done = this.piecesDone;
      this.piecesDone = undefined;
      return done?.(new Error('socket closed'));
    }
    this.pieceInFlight = true;
    this.sock.write(piece, () => {
      this.pieceInFlight = false;
      this.nextPiece();
    });
  }

  override _final(cb: (err?: Error | null) => void): void {
    if (!this.sock.destroyed) this.sock.end();
    cb();
  }

  override _read(): void {
    this.readerFull = false;
    if (!this.owing) this.sock.resume();
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.sock.destroy();
    cb(err);
  }
}

/** The telnet server side (tcp-listen:?telnet): a console server as ser2net is, with RFC 2217. */
export function telnetServerLink(link: ByteStream, log: Logger): ByteStream {
  let breakSince: number | undefined;
  let modem: ModemSettings = { dtr: true, rts: true };
  type Batch = { line: Partial<LineSettings>; answers: ((inForce: LineSettings | undefined) => void)[] };
  let lineBatch: Batch | undefined;
  let lastLine: LineSettings | undefined;
  const emit = (c: Control) => stream.emit('control', c);
  const answer = (code: number, data: Buffer | number[]) => stream.raw(subnegotiation(OPT.COM_PORT, [SERVER + code, ...data]));

  // Settings that arrive together (pyserial sends baud, size, parity and stop at once)
  // become one setLine, so the device is reconfigured once.
  const queueLine = (change: Partial<LineSettings>, respond: (inForce: LineSettings | undefined) => void) => {
    if (!lineBatch) {
      const batch: Batch = { line: {}, answers: [] };
      lineBatch = batch;
      queueMicrotask(() => {
        lineBatch = undefined;
        emit({
          type: 'line',
          line: batch.line,
          reply: (inForce) => {
            // No answer (the change failed, or the other side has no line): what was in force before still is.
            if (inForce) lastLine = inForce;
            batch.answers.forEach((a) => a(inForce ?? lastLine));
          },
        });
      });
    }
    Object.assign(lineBatch.line, change);
    lineBatch.answers.push(respond);
  };
  // Nothing known of the other side's line (a TCP upstream has none): what was asked is vacuously in force.
  const queueSetting = (key: LineKey, value: LineSettings[LineKey] | undefined, code: number) =>
    queueLine(value === undefined ? {} : { [key]: value }, (inForce) => answer(code, encodeLineValue(key, inForce?.[key] ?? value)));
  /** Flow control (SET-CONTROL 0-3 outbound, 13-16 inbound): Linux has one setting for both directions. */
  const queueFlow = (v: number) => {
    const inbound = v >= CTL.INFLOW_REQUEST;
    const want = flowOfControl(v);
    queueLine(want ? { flow: want } : {}, (inForce) => answer(CPO.SET_CONTROL, [flowControlValue(inForce?.flow ?? want ?? 'none', inbound)]));
  };

  const setModem = (want: ModemSettings, which: 'dtr' | 'rts') =>
    emit({
      type: 'modem',
      modem: want,
      reply: (inForce) => {
        // No answer (no modem lines, or the device is down): what was asked is vacuously in force.
        modem = inForce ? { ...modem, ...inForce } : { ...modem, ...want };
        const on = modem[which] !== false;
        answer(CPO.SET_CONTROL, [which === 'dtr' ? (on ? CTL.DTR_ON : CTL.DTR_OFF) : on ? CTL.RTS_ON : CTL.RTS_OFF]);
      },
    });

  const control = (v: number) => {
    switch (v) {
      case CTL.BREAK_ON:
        breakSince = Date.now();
        return answer(CPO.SET_CONTROL, [CTL.BREAK_ON]);
      case CTL.BREAK_OFF:
        if (breakSince !== undefined) emit({ type: 'break', ms: Math.min(10_000, Math.max(1, Date.now() - breakSince)) });
        breakSince = undefined;
        return answer(CPO.SET_CONTROL, [CTL.BREAK_OFF]);
      case CTL.BREAK_REQUEST:
        return answer(CPO.SET_CONTROL, [breakSince === undefined ? CTL.BREAK_OFF : CTL.BREAK_ON]);
      case CTL.DTR_ON:
      case CTL.DTR_OFF:
        return setModem({ dtr: v === CTL.DTR_ON }, 'dtr');
      case CTL.DTR_REQUEST:
        return setModem({}, 'dtr');
      case CTL.RTS_ON:
      case CTL.RTS_OFF:
        return setModem({ rts: v === CTL.RTS_ON }, 'rts');
      case CTL.RTS_REQUEST:
        return setModem({}, 'rts');
      default:
        if (v <= CTL.FLOW_HARDWARE || (v >= CTL.INFLOW_REQUEST && v <= CTL.INFLOW_HARDWARE)) return queueFlow(v);
        // DCD, DTR or DSR inbound flow: Linux has no such setting; none is in force.
        return answer(CPO.SET_CONTROL, [CTL.INFLOW_NONE]);
    }
  };

  const comPort = (data: Buffer) => {
    const code = data[0];
    const value = data.subarray(1);
    if (code === undefined) return;
    const key = LINE_COMMANDS[code];
    if (key) return queueSetting(key, decodeLineValue(key, value), code);
    switch (code) {
      case CPO.SIGNATURE:
        if (value.length === 0) answer(CPO.SIGNATURE, Buffer.from(SIGNATURE));
        else log.info(`${link.label}: RFC 2217 client is ${value.toString('latin1')}`);
        return;
      case CPO.SET_CONTROL:
        return control(value[0] ?? 0);
      case CPO.NOTIFY_LINESTATE:
        // We learn no line state (overrun, parity errors) from the device; report none.
        return answer(code, [0]);
      case CPO.NOTIFY_MODEMSTATE:
        // A client polling (pyserial's ?poll_modem): the lines as they are now.
        return modemState.read(true);
      case CPO.FLOWCONTROL_SUSPEND:
      case CPO.FLOWCONTROL_RESUME:
        return stream.suspend(code === CPO.FLOWCONTROL_SUSPEND);
      case CPO.SET_MODEMSTATE_MASK:
        answer(code, [value[0] ?? 0]);
        return modemState.setMask(value[0] ?? 0);
      case CPO.SET_LINESTATE_MASK:
      case CPO.PURGE_DATA:
        return answer(code, [value[0] ?? 0]);
    }
  };

  const stream = new TelnetStream(
    link.stream,
    'server',
    (option, data) => {
      if (option === OPT.NAWS && data.length >= 4) {
        const cols = data.readUInt16BE(0);
        const rows = data.readUInt16BE(2);
        if (cols > 0 && rows > 0) emit({ type: 'resize', cols, rows });
      } else if (option === OPT.COM_PORT) {
        comPort(data);
      }
    },
    (cmd) => {
      if (cmd === BRK) emit({ type: 'break', ms: BRK_MS });
      else if (cmd === AYT) stream.raw(Buffer.from('\r\n[ptybridge: yes]\r\n'));
    },
    (_side, option, on) => {
      if (option === OPT.COM_PORT && on) modemState.start();
    },
  );
  const modemState = modemStateNotifier(
    (ask) => emit({ type: 'modem', modem: {}, reply: ask }),
    (state) => answer(CPO.NOTIFY_MODEMSTATE, [state]),
  );
  stream.once('close', () => modemState.stop());
  // The device echoes and runs in character mode: what ser2net and conserver offer.
  for (const o of [OPT.ECHO, OPT.SGA, OPT.BINARY]) stream.neg.request('us', o);
  for (const o of [OPT.SGA, OPT.BINARY, OPT.NAWS]) stream.neg.request('him', o);
  return { stream, label: `${link.label} telnet` };
}

/** NOTIFY-MODEMSTATE bits (RFC 2217): the lines in the high nibble, "changed since the last notice" in the low one. */
const MODEM_BITS = { cts: 0x10, dsr: 0x20, ri: 0x40, dcd: 0x80 } as const;

/**
 * RFC 2217 modem-state notices for one client: once it speaks COM-PORT-OPTION, the lines
 * are sent at once (pyserial's `cts`/`dsr`/`ri`/`cd` read the last notice and fail if none
 * came) and again whenever a line in the client's mask changes, read every MODEM_POLL_MS.
 * The mask starts at 255, as pyserial's and ser2net's servers start it; a mask of 0 stops
 * the reading. Lines the device cannot report (a pty, RI on serialport) are sent as off.
 */
function modemStateNotifier(read: (reply: (m: ModemSettings | undefined) => void) => void, send: (state: number) => void) {
  let mask = 255;
  let last: number | undefined;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  let reading = false;
  let forced = false;
  const readNow = (force: boolean) => {
    // A forced notice asked for while a read is out is sent with that read's answer.
    forced ||= force;
    if (stopped || reading) return;
    reading = true;
    read((m) => {
      reading = false;
      const force = forced;
      forced = false;
      if (stopped) return;
      let state = 0;
      for (const [line, bit] of Object.entries(MODEM_BITS)) if (m?.[line as keyof typeof MODEM_BITS]) state |= bit;
      const changed = (state ^ (last ?? 0)) & 0xf0;
      const withDeltas = state | (changed >> 4);
      if (force || (last !== undefined && changed !== 0 && (withDeltas & mask) !== 0)) send(withDeltas & mask);
      last = state;
    });
  };
  const poll = () => {
    clearInterval(timer);
    timer = mask === 0 || stopped ? undefined : setInterval(() => readNow(false), MODEM_POLL_MS).unref();
  };
  return {
    start() {
      if (timer || stopped) return;
      readNow(true);
      poll();
    },
    setMask(m: number) {
      mask = m;
      readNow(true);
      poll();
    },
    read: readNow,
    stop() {
      stopped = true;
      clearInterval(timer);
    },
  };
}

/** The telnet client side (tcp:?telnet): NAWS for resizes, RFC 2217 for line, modem and BREAK. */
export function telnetClientLink(link: ByteStream, log: Logger): PipeEnd {
  let size: [number, number] | undefined;
  /** Callers waiting for an answer, by answer code; SET-CONTROL answers also by kind (flow, break, dtr…), which may come back in any order. */
  const waiting = new Map<string, ((data: Buffer | undefined) => void)[]>();
  const answerKey = (code: number, first: number | undefined) => (code === SERVER + CPO.SET_CONTROL ? `${code}:${controlGroup(first ?? 0)}` : String(code));

  const sendNaws = () => {
    if (!size || !stream.neg.enabled('us', OPT.NAWS)) return;
    const b = Buffer.alloc(4);
    b.writeUInt16BE(Math.min(size[0], 65535), 0);
    b.writeUInt16BE(Math.min(size[1], 65535), 2);
    stream.raw(subnegotiation(OPT.NAWS, b));
  };
  let remoteLines: number | undefined;
  /**
   * A request made right after connecting (a virtual port handing on the settings a program
   * just set) waits for the server's answer to WILL COM-PORT-OPTION, up to NEGOTIATION_MS.
   */
  const requireComPort = async () => {
    if (stream.neg.pending('us', OPT.COM_PORT) && !stream.destroyed) {
      await new Promise<void>((resolve) => {
        const check = () => {
          if (stream.neg.pending('us', OPT.COM_PORT) && !stream.destroyed) return;
          done();
        };
        const timer = setTimeout(() => done(), NEGOTIATION_MS);
        const done = () => {
          clearTimeout(timer);
          link.stream.off('data', check);
          stream.off('close', done);
          resolve();
        };
        // Registered after the parser's own listener: it has read the answer when this runs.
        link.stream.on('data', check);
        stream.once('close', done);
      });
    }
    if (!stream.neg.enabled('us', OPT.COM_PORT)) throw new Error('the telnet server does not speak RFC 2217 (COM-PORT-OPTION)');
  };
  /** Sends one COM-PORT command and waits for the server's answer (code + 100). */
  const ask = (code: number, data: Buffer | number[]): Promise<Buffer> =>
    new Promise((resolve, reject) => {
      const key = answerKey(SERVER + code, Buffer.from(data)[0]);
      const queue = waiting.get(key) ?? [];
      waiting.set(key, queue);
      const timer = setTimeout(() => {
        queue.splice(queue.indexOf(done), 1);
        reject(new Error(`no RFC 2217 answer to command ${code} within ${ANSWER_MS} ms`));
      }, ANSWER_MS);
      const done = (d: Buffer | undefined) => {
        clearTimeout(timer);
        if (d) resolve(d);
        else reject(new Error('connection closed'));
      };
      queue.push(done);
      stream.raw(subnegotiation(OPT.COM_PORT, [code, ...data]));
    });

  const stream = new TelnetStream(
    link.stream,
    'client',
    (option, data) => {
      if (option !== OPT.COM_PORT || data[0] === undefined) return;
      // The server's modem-state notices come unasked: keep the last for a read (an empty setModem).
      if (data[0] === SERVER + CPO.NOTIFY_MODEMSTATE && data[1] !== undefined) remoteLines = data[1];
      waiting.get(answerKey(data[0], data[1]))?.shift()?.(data.subarray(1));
    },
    () => {},
    (side, option, on) => {
      if (side === 'us' && option === OPT.NAWS && on) sendNaws();
    },
  );
  stream.once('close', () => {
    for (const q of waiting.values()) q.splice(0).forEach((f) => f(undefined));
  });
  for (const o of [OPT.BINARY, OPT.COM_PORT]) stream.neg.request('us', o);
  for (const o of [OPT.BINARY, OPT.SGA]) stream.neg.request('him', o);

  return {
    stream,
    label: `${link.label} telnet`,
    resize(cols, rows) {
      size = [cols, rows];
      sendNaws();
    },
    async sendBreak(ms) {
      if (!stream.neg.enabled('us', OPT.COM_PORT)) return stream.raw(Buffer.of(IAC, BRK));
      await ask(CPO.SET_CONTROL, [CTL.BREAK_ON]);
      await new Promise((r) => setTimeout(r, ms));
      await ask(CPO.SET_CONTROL, [CTL.BREAK_OFF]);
    },
    async setLine(line) {
      await requireComPort();
      const inForce: Partial<LineSettings> = {};
      const codes = Object.entries(LINE_COMMANDS) as [string, LineKey][];
      await Promise.all([
        ...codes.map(async ([code, key]) => {
          const answer = await ask(Number(code), encodeLineValue(key, line[key]));
          (inForce as Record<string, unknown>)[key] = decodeLineValue(key, answer);
        }),
        // A server that does not answer about flow control still answers the rest.
        ask(CPO.SET_CONTROL, [line.flow ? flowControlValue(line.flow, false) : CTL.FLOW_REQUEST]).then(
          (answer) => {
            const flow = flowOfControl(answer[0] ?? 0);
            if (flow) inForce.flow = flow;
          },
          () => {},
        ),
      ]);
      log.debug(`${link.label}: RFC 2217 line in force ${JSON.stringify(inForce)}`);
      return inForce as LineSettings;
    },
    async setModem(modem) {
      if (modem.dtr === undefined && modem.rts === undefined) {
        // A read (our own telnet server polls every second): answer from the server's last notice, send nothing.
        const lines = remoteLines;
        return lines === undefined
          ? {}
          : { cts: !!(lines & MODEM_BITS.cts), dsr: !!(lines & MODEM_BITS.dsr), ri: !!(lines & MODEM_BITS.ri), dcd: !!(lines & MODEM_BITS.dcd) };
      }
      await requireComPort();
      const [dtr, rts] = await Promise.all([
        ask(CPO.SET_CONTROL, [modem.dtr === undefined ? CTL.DTR_REQUEST : modem.dtr ? CTL.DTR_ON : CTL.DTR_OFF]),
        ask(CPO.SET_CONTROL, [modem.rts === undefined ? CTL.RTS_REQUEST : modem.rts ? CTL.RTS_ON : CTL.RTS_OFF]),
      ]);
      return { dtr: dtr[0] === CTL.DTR_ON, rts: rts[0] === CTL.RTS_ON };
    },
  };
}

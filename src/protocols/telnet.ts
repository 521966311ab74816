// Telnet (RFC 854/855/1143): an incremental parser, an escaping encoder and option negotiation.

/** Telnet command bytes. */
export const IAC = 255;
export const DONT = 254;
export const DO = 253;
export const WONT = 252;
export const WILL = 251;
export const SB = 250;
export const GA = 249;
export const AYT = 246;
export const IP = 244;
export const BRK = 243;
export const NOP = 241;
export const SE = 240;

/** Telnet option codes ptybridge knows. */
export const OPT = { BINARY: 0, ECHO: 1, SGA: 3, NAWS: 31, LINEMODE: 34, COM_PORT: 44 } as const;

const CR = 13;
const LF = 10;
const NUL = 0;

export type Verb = typeof DO | typeof DONT | typeof WILL | typeof WONT;

/** What the parser finds, reported in stream order. */
export interface TelnetHandler {
  data(bytes: Buffer): void;
  /** A two-byte command: BRK, IP, AYT, NOP, GA… */
  command(cmd: number): void;
  negotiate(verb: Verb, option: number): void;
  /** A whole SB…SE block, IAC IAC already undone. */
  sub(option: number, data: Buffer): void;
}

const enum S {
  Data,
  Iac,
  Verb,
  SbOption,
  SbData,
  SbIac,
}

/** Longest subnegotiation kept; a peer that never sends SE cannot grow memory. */
const MAX_SB = 4096;

/**
 * Turns a telnet byte stream into data and commands. Feeding the same bytes split at any
 * points gives the same calls (data may come in more pieces). `binary` is the peer's
 * transmission mode: when false, CR NUL stands for a bare CR (RFC 854) and the NUL is dropped.
 */
export class TelnetParser {
  binary = false;
  private state = S.Data;
  private verb: Verb = DO;
  private sbOption = 0;
  private sb: number[] = [];
  private lastCR = false;

  constructor(private readonly on: TelnetHandler) {}

  feed(chunk: Buffer): void {
    let i = 0;
    const n = chunk.length;
    while (i < n) {
      switch (this.state) {
        case S.Data: {
          // Fast path: hand over the longest run of plain data in one piece.
          let end = chunk.indexOf(IAC, i);
          if (end < 0) end = n;
          if (!this.binary) {
            if (this.lastCR && chunk[i] === NUL) {
              i++;
              this.lastCR = false;
              continue;
            }
            const cr = chunk.indexOf(CR, i);
            if (cr >= 0 && cr < end) end = cr + 1;
          }
          if (end > i) {
            this.lastCR = chunk[end - 1] === CR;
            this.on.data(chunk.subarray(i, end));
            i = end;
          } else {
            this.state = S.Iac;
            this.lastCR = false;
            i++;
          }
          break;
        }
        case S.Iac:
          this.command(chunk[i++]!);
          break;
        case S.Verb:
          this.state = S.Data;
          this.on.negotiate(this.verb, chunk[i++]!);
          break;
        case S.SbOption:
          this.sbOption = chunk[i++]!;
          this.sb = [];
          this.state = S.SbData;
          break;
        case S.SbData: {
          const b = chunk[i++]!;
          if (b === IAC) this.state = S.SbIac;
          else if (this.sb.length < MAX_SB) this.sb.push(b);
          break;
        }
        case S.SbIac: {
          const b = chunk[i++]!;
          if (b === IAC) {
            if (this.sb.length < MAX_SB) this.sb.push(IAC);
            this.state = S.SbData;
          } else {
            // SE ends the block; any other command also ends it (a peer that forgot SE).
            this.on.sub(this.sbOption, Buffer.from(this.sb));
            this.sb = [];
            this.state = S.Data;
            if (b !== SE) this.command(b);
          }
          break;
        }
      }
    }
  }

  private command(b: number): void {
    if (b === IAC) {
      this.state = S.Data;
      this.on.data(Buffer.of(IAC));
    } else if (b === DO || b === DONT || b === WILL || b === WONT) {
      this.verb = b;
      this.state = S.Verb;
    } else if (b === SB) {
      this.state = S.SbOption;
    } else {
      this.state = S.Data;
      if (b !== SE) this.on.command(b);
    }
  }
}

/**
 * Escapes data for sending: IAC becomes IAC IAC, and, unless we transmit in binary mode,
 * a CR not followed by LF becomes CR NUL (a CR ending the chunk too: CR NUL LF still reads as CR LF).
 */
export function escapeData(data: Buffer, binary: boolean): Buffer {
  const hasIac = data.includes(IAC);
  const hasCr = !binary && data.includes(CR);
  if (!hasIac && !hasCr) return data;
  if (binary) {
    // Bulk copy between IACs: binary payloads have an 0xFF every 256 bytes on average.
    const parts: Buffer[] = [];
    let from = 0;
    for (let i = data.indexOf(IAC); i >= 0; i = data.indexOf(IAC, i + 1)) {
      parts.push(data.subarray(from, i + 1));
      from = i; // the IAC goes out twice: once ending this part, once starting the next
    }
    parts.push(data.subarray(from));
    return Buffer.concat(parts);
  }
  const out = Buffer.allocUnsafe(data.length * 2);
  let n = 0;
  for (let i = 0; i < data.length; i++) {
    const b = data[i]!;
    out[n++] = b;
    if (b === IAC) out[n++] = IAC;
    else if (b === CR && data[i + 1] !== LF) out[n++] = NUL;
  }
  return out.subarray(0, n);
}

/** IAC verb option. */
export const negotiation = (verb: Verb, option: number) => Buffer.of(IAC, verb, option);

/** IAC SB option data IAC SE, with IAC in data doubled. */
export function subnegotiation(option: number, data: Buffer | number[]): Buffer {
  return Buffer.concat([Buffer.of(IAC, SB, option), escapeData(Buffer.from(data), true), Buffer.of(IAC, SE)]);
}

/** Which options each side may enable, and which we ask for at the start. */
export interface OptionPolicy {
  /** Options we agree to perform (answer DO with WILL). */
  local: number[];
  /** Options we agree the peer performs (answer WILL with DO). */
  remote: number[];
}

/**
 * Option negotiation with the RFC 1143 rule that stops loops: answer only a request that
 * changes a state, and never answer the reply to our own request.
 */
export class Negotiator {
  private readonly us = new Map<number, { on: boolean; asked: boolean }>();
  private readonly him = new Map<number, { on: boolean; asked: boolean }>();

  constructor(
    private readonly policy: OptionPolicy,
    private readonly send: (b: Buffer) => void,
    /** Called when an option turns on or off: `side` 'us' = we perform it. */
    private readonly changed: (side: 'us' | 'him', option: number, on: boolean) => void,
  ) {}

  /** True when we perform `option` (local) or the peer does (remote). */
  enabled(side: 'us' | 'him', option: number): boolean {
    return (side === 'us' ? this.us : this.him).get(option)?.on ?? false;
  }

  /** True while our request for `option` awaits the peer's answer. */
  pending(side: 'us' | 'him', option: number): boolean {
    return (side === 'us' ? this.us : this.him).get(option)?.asked ?? false;
  }

  /** Asks to enable an option: `us` sends WILL, `him` sends DO. */
  request(side: 'us' | 'him', option: number): void {
    const table = side === 'us' ? this.us : this.him;
    const s = table.get(option) ?? { on: false, asked: false };
    if (s.on || s.asked) return;
    table.set(option, { on: false, asked: true });
    this.send(negotiation(side === 'us' ? WILL : DO, option));
  }

  receive(verb: Verb, option: number): void {
    const side = verb === DO || verb === DONT ? 'us' : 'him';
    const wantOn = verb === DO || verb === WILL;
    const table = side === 'us' ? this.us : this.him;
    const allowed = (side === 'us' ? this.policy.local : this.policy.remote).includes(option);
    const s = table.get(option) ?? { on: false, asked: false };
    const [yes, no] = side === 'us' ? [WILL, WONT] : [DO, DONT];
    if (wantOn) {
      if (s.on) return;
      if (!allowed) {
        table.set(option, { on: false, asked: false });
        this.send(negotiation(no as Verb, option));
        return;
      }
      if (!s.asked) this.send(negotiation(yes as Verb, option));
      table.set(option, { on: true, asked: false });
      this.changed(side, option, true);
    } else {
      if (!s.on && !s.asked) return;
      if (s.on) this.send(negotiation(no as Verb, option));
      table.set(option, { on: false, asked: false });
      if (s.on) this.changed(side, option, false);
    }
  }
}

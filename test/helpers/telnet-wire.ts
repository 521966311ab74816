// What a telnet client makes of the bytes a telnet server sent: for tests that compare a door's output byte for byte.
import { DONT, IAC, SB, SE, WILL } from '../../src/protocols/telnet.js';

/** A minimal independent telnet client decoder: drops negotiation, undoes IAC IAC and (non-binary) CR NUL. */
export function decodeWire(wire: Buffer, binary: boolean): Buffer {
  const out: number[] = [];
  for (let i = 0; i < wire.length; i++) {
    const b = wire[i]!;
    if (b === IAC) {
      const c = wire[++i]!;
      if (c === IAC) out.push(IAC);
      else if (c >= WILL && c <= DONT) i++;
      else if (c === SB) {
        while (!(wire[i] === IAC && wire[i + 1] === SE)) i++;
        i++;
      }
      continue;
    }
    if (!binary && b === 0 && wire[i - 1] === 0x0d) continue;
    out.push(b);
  }
  return Buffer.from(out);
}

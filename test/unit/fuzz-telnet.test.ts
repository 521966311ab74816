// Property tests of the telnet / RFC 2217 parser: any bytes, split anywhere, decode as they do unsplit; the encoder round-trips.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { fuzzRuns } from '../helpers/fuzz-runs.js';
import { DO, DONT, IAC, Negotiator, OPT, SB, SE, TelnetParser, WILL, WONT, escapeData, subnegotiation, type Verb } from '../../src/protocols/telnet.js';
import { CPO, LINE_COMMANDS, decodeLineValue, encodeLineValue, type LineKey } from '../../src/protocols/rfc2217.js';

const RUNS = fuzzRuns();

/** What a parser reports, with consecutive data merged (the parser may cut data anywhere). */
type Event = ['data', string] | ['command', number] | ['negotiate', number, number] | ['sub', number, string];

/**
 * Feeds `chunks` to a parser wired as the telnet link wires it: a Negotiator decides
 * whether the peer transmits in binary (WILL/WONT BINARY), which changes how CR NUL reads,
 * so a split that moved a negotiation against the data would show.
 */
function decode(chunks: Buffer[], role: 'server' | 'client'): Event[] {
  const events: Event[] = [];
  const local = [OPT.BINARY, OPT.SGA, OPT.COM_PORT, ...(role === 'server' ? [OPT.ECHO] : [OPT.NAWS])];
  const remote = [OPT.BINARY, OPT.SGA, OPT.COM_PORT, ...(role === 'server' ? [OPT.NAWS] : [OPT.ECHO])];
  const neg = new Negotiator(
    { local, remote },
    () => {},
    (side, option, on) => {
      if (option === OPT.BINARY && side === 'him') parser.binary = on;
    },
  );
  const parser = new TelnetParser({
    data(bytes) {
      const last = events.at(-1);
      if (last?.[0] === 'data') last[1] += bytes.toString('hex');
      else events.push(['data', bytes.toString('hex')]);
    },
    command: (cmd) => events.push(['command', cmd]),
    negotiate(verb: Verb, option) {
      events.push(['negotiate', verb, option]);
      neg.receive(verb, option);
    },
    sub: (option, data) => events.push(['sub', option, data.toString('hex')]),
  });
  for (const c of chunks) parser.feed(c);
  return events;
}

/** Cuts `bytes` at the given points (any numbers; taken modulo the length). */
function split(bytes: Buffer, points: number[]): Buffer[] {
  const cuts = [...new Set(points.map((p) => (bytes.length ? p % (bytes.length + 1) : 0)))].sort((x, y) => x - y);
  const out: Buffer[] = [];
  let from = 0;
  for (const c of cuts) {
    out.push(bytes.subarray(from, c));
    from = c;
  }
  out.push(bytes.subarray(from));
  return out;
}

/** Telnet-shaped pieces, so that IAC sequences, CR NUL and subnegotiations are common, mixed with any bytes. */
const piece = fc.oneof(
  fc.uint8Array({ minLength: 1, maxLength: 40 }).map((a) => Buffer.from(a)),
  fc.constantFrom(IAC, SB, SE, WILL, WONT, DO, DONT, 13, 10, 0, 243, 244, 246, 241).map((b) => Buffer.of(b)),
  fc.constantFrom(Buffer.of(IAC, IAC), Buffer.of(13, 0), Buffer.of(13, 10), Buffer.of(13)),
  fc.tuple(fc.constantFrom(WILL, WONT, DO, DONT), fc.constantFrom(0, 1, 3, 31, 34, 44, 200)).map(([v, o]) => Buffer.of(IAC, v, o)),
  fc.tuple(fc.constantFrom(31, 44, 24), fc.uint8Array({ maxLength: 12 })).map(([o, d]) => subnegotiation(o, Buffer.from(d))),
  // A subnegotiation cut short by another command, or never ended.
  fc.tuple(fc.constantFrom(44, 31), fc.uint8Array({ maxLength: 6 })).map(([o, d]) => Buffer.concat([Buffer.of(IAC, SB, o), Buffer.from(d)])),
);
const stream = fc.array(piece, { maxLength: 40 }).map((ps) => Buffer.concat(ps));
const cuts = fc.array(fc.nat(), { maxLength: 30 });

test('telnet parser: any bytes split at any points give the same data and events as unsplit (server and client wiring)', () => {
  fc.assert(
    fc.property(stream, cuts, fc.constantFrom<'server' | 'client'>('server', 'client'), (bytes, points, role) => {
      const whole = decode([bytes], role);
      assert.deepEqual(decode(split(bytes, points), role), whole);
      // The hardest split: one byte at a time.
      assert.deepEqual(
        decode(
          [...bytes].map((b) => Buffer.of(b)),
          role,
        ),
        whole,
      );
    }),
    { numRuns: RUNS },
  );
});

test('telnet parser: arbitrary bytes (not telnet-shaped) too', () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ maxLength: 600 }).map((a) => Buffer.from(a)),
      cuts,
      (bytes, points) => {
        assert.deepEqual(decode(split(bytes, points), 'server'), decode([bytes], 'server'));
      },
    ),
    { numRuns: RUNS },
  );
});

test('telnet parser: a subnegotiation that never ends keeps at most 4096 bytes, and data after it still decodes', () => {
  const events = decode([Buffer.of(IAC, SB, 44), Buffer.alloc(100_000, 7), Buffer.of(IAC, SE), Buffer.from('after')], 'server');
  assert.deepEqual(events, [
    ['sub', 44, Buffer.alloc(4096, 7).toString('hex')],
    ['data', Buffer.from('after').toString('hex')],
  ]);
});

test('telnet encoder and parser agree: data escaped chunk by chunk (binary or not) and cut anywhere decodes to itself', () => {
  fc.assert(
    fc.property(
      fc.array(
        fc.uint8Array({ maxLength: 64 }).map((a) => Buffer.from(a)),
        { maxLength: 20 },
      ),
      fc.boolean(),
      cuts,
      (chunks, binary, points) => {
        const wire = Buffer.concat(chunks.map((c) => escapeData(c, binary)));
        const parser = new TelnetParser({
          data: (b) => got.push(Buffer.from(b)),
          command: (c) => assert.fail(`command ${c} from escaped data`),
          negotiate: () => assert.fail('negotiation from escaped data'),
          sub: () => assert.fail('subnegotiation from escaped data'),
        });
        const got: Buffer[] = [];
        parser.binary = binary;
        for (const c of split(wire, points)) parser.feed(c);
        assert.equal(Buffer.concat(got).toString('hex'), Buffer.concat(chunks).toString('hex'));
      },
    ),
    { numRuns: RUNS },
  );
});

test('RFC 2217: a COM-PORT subnegotiation with any value bytes comes out whole, and line values round-trip', () => {
  fc.assert(
    fc.property(fc.constantFrom(...Object.values(CPO)), fc.uint8Array({ maxLength: 16 }), cuts, (code, value, points) => {
      const wire = subnegotiation(OPT.COM_PORT, [code, ...value]);
      const events = decode(split(wire, points), 'server');
      assert.deepEqual(events, [['sub', OPT.COM_PORT, Buffer.from([code, ...value]).toString('hex')]]);
      const key = LINE_COMMANDS[code] as LineKey | undefined;
      if (key) {
        // Whatever a client sends decodes to a valid setting or to "unknown", and a valid one encodes back to itself.
        const v = decodeLineValue(key, Buffer.from(value));
        if (v !== undefined) assert.deepEqual(decodeLineValue(key, encodeLineValue(key, v)), v);
      }
    }),
    { numRuns: RUNS },
  );
});

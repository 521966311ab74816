// Telnet and RFC 2217: the parser on real byte sequences, the link over real sockets, telnet and pyserial clients.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import { BRK, DO, IAC, OPT, SB, SE, WILL, WONT, DONT, TelnetParser, escapeData, type TelnetHandler } from '../src/protocols/telnet.js';
import { telnetClientLink, telnetServerLink } from '../src/protocols/telnet-link.js';
import { createLogger } from '../src/log.js';
import type { Control } from '../src/core/link.js';
import { connectTcp, readUntil, runTool, sha256, startPtyb, tcpServer } from './helpers/ptyb.js';
import { ptyPair } from './helpers/devices.js';
import { decodeWire } from './helpers/telnet-wire.js';
import { waitForScreen } from './helpers/tmux.js';
import { until } from './helpers/until.js';
import { createReadStream } from 'node:fs';

type Ev = [string, ...unknown[]];

/** Feeds chunks and returns the events, with adjacent data merged. */
function parse(chunks: Buffer[], binary: boolean): Ev[] {
  const evs: Ev[] = [];
  const h: TelnetHandler = {
    data: (b) => {
      const last = evs[evs.length - 1];
      if (last?.[0] === 'data') last[1] = Buffer.concat([last[1] as Buffer, b]);
      else evs.push(['data', Buffer.from(b)]);
    },
    command: (c) => evs.push(['cmd', c]),
    negotiate: (v, o) => evs.push(['neg', v, o]),
    sub: (o, d) => evs.push(['sub', o, Buffer.from(d)]),
  };
  const p = new TelnetParser(h);
  p.binary = binary;
  for (const c of chunks) p.feed(c);
  return evs;
}

// A session as it appears on the wire: data, an escaped 0xFF, negotiation, NAWS whose
// width is 0xFF (doubled inside SB), CR NUL and CR LF, BRK, and a COM-PORT baud of 0x0001C2FF.
const WIRE = Buffer.from([
  ...Buffer.from('ab'),
  IAC,
  IAC,
  0x63,
  IAC,
  DO,
  OPT.BINARY,
  IAC,
  WILL,
  OPT.SGA,
  IAC,
  SB,
  OPT.NAWS,
  0,
  IAC,
  IAC,
  0,
  40,
  IAC,
  SE,
  0x0d,
  0x00,
  0x78,
  0x0d,
  0x0a,
  IAC,
  BRK,
  IAC,
  SB,
  OPT.COM_PORT,
  1,
  0x00,
  0x01,
  0xc2,
  IAC,
  IAC,
  IAC,
  SE,
  0x7a,
]);
const EXPECTED: Ev[] = [
  ['data', Buffer.from([0x61, 0x62, 0xff, 0x63])],
  ['neg', DO, OPT.BINARY],
  ['neg', WILL, OPT.SGA],
  ['sub', OPT.NAWS, Buffer.from([0, 0xff, 0, 40])],
  ['data', Buffer.from([0x0d, 0x78, 0x0d, 0x0a])],
  ['cmd', BRK],
  ['sub', OPT.COM_PORT, Buffer.from([1, 0x00, 0x01, 0xc2, 0xff])],
  ['data', Buffer.from('z')],
];

test('parser: the same events whatever the split points (every split, and byte by byte)', () => {
  assert.deepEqual(parse([WIRE], false), EXPECTED);
  for (let i = 0; i <= WIRE.length; i++) {
    for (let j = i; j <= WIRE.length; j += 3) {
      assert.deepEqual(parse([WIRE.subarray(0, i), WIRE.subarray(i, j), WIRE.subarray(j)], false), EXPECTED, `split at ${i},${j}`);
    }
  }
  assert.deepEqual(
    parse(
      [...WIRE].map((b) => Buffer.of(b)),
      false,
    ),
    EXPECTED,
  );
  // In binary mode CR NUL is data.
  const bin = parse([WIRE], true);
  assert.deepEqual(bin[4], ['data', Buffer.from([0x0d, 0x00, 0x78, 0x0d, 0x0a])]);
});

test('escape + parse: all 256 byte values round-trip in binary and in non-binary mode', () => {
  const all = Buffer.from(Array.from({ length: 1024 }, (_, i) => i % 256).concat([0x0d, 0x0d, 0x00, 0x0d]));
  for (const binary of [true, false]) {
    const wire = escapeData(all, binary);
    for (const step of [1, 7, 255, wire.length]) {
      const chunks: Buffer[] = [];
      for (let o = 0; o < wire.length; o += step) chunks.push(wire.subarray(o, o + step));
      const evs = parse(chunks, binary);
      assert.equal(evs.length, 1);
      assert.deepEqual(evs[0]![1], all, `binary=${binary} step=${step}`);
    }
  }
});

for (const binary of [true, false]) {
  test(`tcp-listen:?telnet: bytes 0x00-0xFF both ways, byte-exact, client ${binary ? 'agrees to BINARY' : 'refuses every option (CR NUL)'}`, async () => {
    const payload = Buffer.from(Array.from({ length: 64 * 1024 }, (_, i) => (i * 7 + (i >> 8)) % 256));
    let upstreamGot!: (b: Buffer) => void;
    const atUpstream = new Promise<Buffer>((r) => (upstreamGot = r));
    const upstream = await tcpServer((s) => {
      const got: Buffer[] = [];
      let n = 0;
      s.on('data', (c: Buffer) => {
        got.push(c);
        n += c.length;
        if (n >= payload.length) upstreamGot(Buffer.concat(got));
      });
      s.end(payload);
    });
    const pb = await startPtyb(['tcp-listen:0?telnet', `tcp:127.0.0.1:${upstream.port}`]);
    try {
      const c = await connectTcp(pb.listening[0]!.port);
      const wire: Buffer[] = [];
      let answered = false;
      // An option nobody offers, asked for after our answers: the server's WONT to it says it has read them.
      const PROBE = 99;
      let settled = false;
      const probe = new TelnetParser({
        data: () => {},
        command: () => {},
        sub: () => {},
        negotiate: (verb, option) => {
          if (verb !== WONT || option !== PROBE || settled) return;
          settled = true;
          // Once the server has our answer the mode is settled; escape accordingly.
          c.end(escapeData(payload, binary));
        },
      });
      c.on('data', (d: Buffer) => {
        wire.push(d);
        probe.feed(d);
        if (answered) return;
        answered = true;
        // Answer the server's opening requests the way a client does, then send the payload.
        const yes = binary ? [IAC, DO, OPT.BINARY, IAC, WILL, OPT.BINARY] : [IAC, DONT, OPT.BINARY, IAC, WONT, OPT.BINARY];
        c.write(Buffer.from([...yes, IAC, DONT, OPT.ECHO, IAC, WONT, OPT.NAWS, IAC, DO, PROBE]));
      });
      await once(c, 'end');
      const received = decodeWire(Buffer.concat(wire), binary);
      assert.equal(sha256(received), sha256(payload), 'upstream → telnet client');
      const sent = await atUpstream;
      assert.equal(sha256(sent.subarray(0, payload.length)), sha256(payload), 'telnet client → upstream');
      assert.equal(sent.length, payload.length);
    } finally {
      await pb.stop();
      await upstream.close();
    }
  });
}

/** Two ends of one real loopback TCP connection: `sock` (the client's) and `peer` (the server's). */
async function socketPair(): Promise<{ server: net.Server; sock: net.Socket; peer: net.Socket }> {
  const server = net.createServer({ allowHalfOpen: true });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const accepted = once(server, 'connection');
  const sock = net.connect({ port: (server.address() as net.AddressInfo).port, host: '127.0.0.1' });
  await once(sock, 'connect');
  const [peer] = (await accepted) as [net.Socket];
  return { server, sock, peer };
}

test('RFC 2217 in-process: the client gets the settings really in force, BREAK and NAWS arrive as controls', async () => {
  const { server, sock, peer } = await socketPair();
  const log = createLogger('error');
  const srv = telnetServerLink({ stream: peer, label: 'srv' }, log);
  const cli = telnetClientLink({ stream: sock, label: 'cli' }, log);
  const controls: Control[] = [];
  srv.stream.on('control', (c: Control) => {
    controls.push(c);
    // The "device" can only do 57600 and 7E1.
    if (c.type === 'line') c.reply?.({ baud: 57600, dataBits: 7, parity: 'even', stopBits: 1 });
    if (c.type === 'modem') c.reply?.({ dtr: false, rts: c.modem.rts ?? true });
  });
  try {
    // Negotiation must settle before RFC 2217 commands: wait until the server said DO COM-PORT.
    await until(tryLine, { timeout: 10_000, what: 'the server to say DO COM-PORT' });
    const inForce = await cli.setLine!({ baud: 115200, dataBits: 8, parity: 'none', stopBits: 2 });
    assert.deepEqual(inForce, { baud: 57600, dataBits: 7, parity: 'even', stopBits: 1, flow: 'none' });
    // The four settings may arrive in one or several segments: together they are what was asked.
    const asked = Object.assign({}, ...controls.map((c) => (c.type === 'line' ? c.line : {})));
    assert.deepEqual(asked, { baud: 115200, dataBits: 8, parity: 'none', stopBits: 2 });
    assert.deepEqual(await cli.setModem!({ dtr: true, rts: false }), { dtr: false, rts: false });
    await cli.sendBreak!(30);
    cli.resize!(132, 43);
    await until(() => controls.some((c) => c.type === 'resize') && controls.some((c) => c.type === 'break'), {
      timeout: 10_000,
      what: 'the BREAK and the resize to arrive as controls',
      detail: () => JSON.stringify(controls),
    });
    assert.ok(
      controls.some((c) => c.type === 'break' && c.ms >= 1),
      JSON.stringify(controls),
    );
    assert.ok(
      controls.some((c) => c.type === 'resize' && c.cols === 132 && c.rows === 43),
      JSON.stringify(controls),
    );
    // Data still flows byte-exact after all that.
    cli.stream.write(Buffer.of(0xff, 0x0d, 0x00, 0xff));
    let got = Buffer.alloc(0);
    await new Promise<void>((r) =>
      srv.stream.on('data', (d: Buffer) => {
        got = Buffer.concat([got, d]);
        if (got.length >= 4) r();
      }),
    );
    assert.deepEqual(got, Buffer.of(0xff, 0x0d, 0x00, 0xff));
  } finally {
    cli.stream.destroy();
    srv.stream.destroy();
    server.close();
  }

  async function tryLine(): Promise<boolean> {
    try {
      await cli.setLine!({});
      return true;
    } catch {
      return false;
    }
  }
});

test('RFC 2217 NOTIFY-MODEMSTATE: sent at once when the client speaks COM-PORT-OPTION, on a mask change, and when a line changes', {
  timeout: 30_000,
}, async () => {
  const { server, sock, peer } = await socketPair();
  const srv = telnetServerLink({ stream: peer, label: 'srv' }, createLogger('error'));
  // The "device": CTS and CD asserted; a modem control with no change is a read of the lines.
  let lines = { cts: true, dsr: false, dcd: true };
  srv.stream.on('control', (c: Control) => {
    if (c.type === 'modem') c.reply?.({ dtr: true, rts: true, ...lines });
  });
  srv.stream.resume();
  // What a raw RFC 2217 client receives: the server's COM-PORT answers and notices, in order.
  const notices: number[][] = [];
  const parser = new TelnetParser({ data: () => {}, command: () => {}, negotiate: () => {}, sub: (o, d) => o === OPT.COM_PORT && notices.push([...d]) });
  parser.binary = true;
  sock.on('data', (d: Buffer) => parser.feed(d));
  const next = async (code: number) => {
    await until(() => notices.some((n) => n[0] === code), {
      what: `a COM-PORT answer ${code}`,
      timeout: 10_000,
      step: 10,
      detail: () => `notices so far: ${JSON.stringify(notices)}`,
    });
    const i = notices.findIndex((n) => n[0] === code);
    return notices
      .splice(0, i + 1)
      .at(-1)!
      .slice(1);
  };
  try {
    sock.write(Buffer.of(IAC, WILL, OPT.COM_PORT));
    // At once: CD and CTS, each flagged as changed (against nothing sent before), as pyserial's server does.
    assert.deepEqual(await next(107), [0x80 | 0x10 | 0x08 | 0x01]);
    // The client narrows its mask to CTS and DSR: the answer, then the state under the new mask at once.
    sock.write(Buffer.of(IAC, SB, OPT.COM_PORT, 11, 0x33, IAC, SE));
    assert.deepEqual(await next(111), [0x33]);
    assert.deepEqual(await next(107), [0x10]);
    // DSR rises: noticed by the next read of the lines, with its change bit.
    lines = { cts: true, dsr: true, dcd: true };
    assert.deepEqual(await next(107), [0x10 | 0x20 | 0x02]);
    // CTS and CD fall: the notice carries CTS's change, and nothing of CD, which is outside the mask.
    lines = { cts: false, dsr: true, dcd: false };
    assert.deepEqual(await next(107), [0x20 | 0x01]);
    // A poll (pyserial's ?poll_modem) is answered with the lines as they are.
    sock.write(Buffer.of(IAC, SB, OPT.COM_PORT, 7, IAC, SE));
    assert.deepEqual(await next(107), [0x20]);
  } finally {
    sock.destroy();
    srv.stream.destroy();
    server.close();
  }
});

test('a real telnet client (/usr/bin/telnet in tmux) gets a usable session through tcp-listen:?telnet', async () => {
  const echo = await tcpServer((s) => s.pipe(s));
  const pb = await startPtyb(['tcp-listen:0?telnet', `tcp:127.0.0.1:${echo.port}`]);
  const sock = `ptyb-telnet-${process.pid}`;
  const tmux = (...a: string[]) => runTool('tmux', ['-L', sock, ...a]);
  try {
    await tmux('new-session', '-d', '-x', '100', '-y', '20', `telnet 127.0.0.1 ${pb.listening[0]!.port}`);
    const screen = (want: RegExp) => waitForScreen(async () => (await tmux('capture-pane', '-p')).stdout.toString(), want);
    await screen(/Escape character/);
    await tmux('send-keys', 'ping-through-telnet', 'Enter');
    const s = await screen(/ping-through-telnet/);
    // The server said WILL ECHO: the client does not echo locally, so the text shows once (the echo server's).
    assert.equal(s.match(/ping-through-telnet/g)!.length, 1, s);
  } finally {
    await tmux('kill-server');
    await pb.stop();
    await echo.close();
  }
});

test('pyserial rfc2217:// opens, sets 115200 8N1, writes, reads back and sends BREAK through tcp-listen:?telnet', async () => {
  const echo = await tcpServer((s) => s.pipe(s));
  const pb = await startPtyb(['tcp-listen:0?telnet', `tcp:127.0.0.1:${echo.port}`]);
  try {
    const script = `
import serial, sys
s = serial.serial_for_url('rfc2217://127.0.0.1:${pb.listening[0]!.port}', baudrate=115200, timeout=5)
data = bytes(range(256)) * 4
s.write(data)
got = b''
while len(got) < len(data):
    chunk = s.read(len(data) - len(got))
    if not chunk: break
    got += chunk
s.send_break(0.05)
s.baudrate = 9600
print('ok' if got == data else 'mismatch %d' % len(got))
s.close()
`;
    const r = await runTool('/usr/bin/python3', ['-c', script]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.toString().trim(), 'ok');
  } finally {
    await pb.stop();
    await echo.close();
  }
});

test('pyserial rfc2217:// through tcp-listen:?telnet to serial: on a pty: the baud is set on the device (stty), BREAK goes through, a setting the device refuses is reported', async () => {
  const { dev, far, close } = await ptyPair('ptyb-2217-');
  let pb: Awaited<ReturnType<typeof startPtyb>> | undefined;
  try {
    pb = await startPtyb([`serial:${dev}?baud=9600`, 'tcp-listen:0?telnet']);
    const farEnd = createReadStream(far);
    farEnd.on('error', () => {}); // EIO once socat closes the pair
    const farGot = readUntil(farEnd, 'hello-device');
    const script = `
import serial
s = serial.serial_for_url('rfc2217://127.0.0.1:${pb.listening[0]!.port}?timeout=1', baudrate=57600, timeout=5)
s.write(b'hello-device')
s.send_break(0.1)
try:
    s.bytesize = 7
    print('accepted')
except (serial.SerialException, ValueError) as e:
    print('refused: ' + str(e))
s.close()
`;
    const r = await runTool('/usr/bin/python3', ['-c', script]);
    assert.equal(r.code, 0, r.stderr);
    // A pty keeps 8 data bits whatever is asked; the server answers with 8, so pyserial refuses the change.
    assert.equal(r.stdout.toString().trim(), "refused: remote rejected value for option 'datasize'");
    await farGot;
    farEnd.destroy();
    const speed = (await runTool('stty', ['-F', dev, 'speed'])).stdout.toString().trim();
    assert.equal(speed, '57600');
  } finally {
    await pb?.stop();
    close();
  }
});

test('pyserial rfc2217:// reads cts, dsr, ri and cd from serial: on a pty (a pty has no modem lines: all off), without ?poll_modem', {
  timeout: 60_000,
}, async () => {
  const { dev, close } = await ptyPair('ptyb-2217-modem-');
  let pb: Awaited<ReturnType<typeof startPtyb>> | undefined;
  try {
    pb = await startPtyb([`serial:${dev}`, 'tcp-listen:0?telnet']);
    const script = `
import serial
s = serial.serial_for_url('rfc2217://127.0.0.1:${pb.listening[0]!.port}', baudrate=9600, timeout=5)
print(s.cts, s.dsr, s.ri, s.cd)
s.close()
`;
    const r = await runTool('/usr/bin/python3', ['-c', script]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.toString(), 'False False False False\n');
  } finally {
    await pb?.stop();
    close();
  }
});

test('tcp:?telnet: the client side escapes IAC and reads through a telnet server', async () => {
  // ptybridge as a telnet server in front of an echo server, and ptybridge as its telnet client.
  const echo = await tcpServer((s) => s.pipe(s));
  const server = await startPtyb(['tcp-listen:0?telnet', `tcp:127.0.0.1:${echo.port}`]);
  const client = await startPtyb(['tcp-listen:0', `tcp:127.0.0.1:${server.listening[0]!.port}?telnet`]);
  try {
    const c = await connectTcp(client.listening[0]!.port);
    const payload = Buffer.from(Array.from({ length: 4096 }, (_, i) => i % 256));
    c.write(payload);
    const got: Buffer[] = [];
    let n = 0;
    await new Promise<void>((resolve) =>
      c.on('data', (d: Buffer) => {
        got.push(d);
        n += d.length;
        if (n >= payload.length) resolve();
      }),
    );
    assert.deepEqual(Buffer.concat(got), payload);
    c.destroy();
  } finally {
    await client.stop();
    await server.stop();
    await echo.close();
  }
});

// RFC 2217 on a read-only door: a refused baud, parity or DTR change is answered with the port's real settings, never the value asked for.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type net from 'node:net';
import { startFakeVm, until } from './helpers/devices.js';
import { connectTcp, runTool, startPtyb } from './helpers/ptyb.js';

const IAC = 0xff;
const SB = 0xfa;
const SE = 0xf0;
const WILL = 0xfb;
const COM_PORT = 44;
const SET_BAUDRATE = 1;
const SET_PARITY = 3;
const SET_CONTROL = 5;
const PARITY_NONE = 1;
const PARITY_EVEN = 3;
const DTR_ON = 8;
const DTR_OFF = 9;

/** The COM-PORT answers (server code = 100 + command) found in `bytes`, by code: their values. */
function answers(bytes: Buffer): Map<number, Buffer> {
  const found = new Map<number, Buffer>();
  for (let i = 0; i + 3 < bytes.length; i++) {
    if (bytes[i] !== IAC || bytes[i + 1] !== SB || bytes[i + 2] !== COM_PORT) continue;
    const end = bytes.indexOf(Buffer.of(IAC, SE), i + 3);
    if (end < 0) break;
    const body = bytes.subarray(i + 3, end);
    // SET-CONTROL answers about DTR (7-9) are kept apart from the others (flow, break, RTS).
    const code = body[0]! === 100 + SET_CONTROL && body[1]! >= 7 && body[1]! <= 9 ? 1000 : body[0]!;
    found.set(code, Buffer.from(body.subarray(1)));
    i = end + 1;
  }
  return found;
}

test('tcp-listen?telnet&readonly: a refused baud, parity and DTR are answered with what the port has (raw telnet bytes)', async () => {
  const vm = await startFakeVm();
  const pb = await startPtyb([`serial:${vm.slave}?line=9600,8n1`, 'tcp-listen:0?telnet&readonly']);
  let peer: net.Socket | undefined;
  try {
    peer = await connectTcp(pb.listening[0]!.port);
    let got = Buffer.alloc(0);
    peer.on('data', (c: Buffer) => (got = Buffer.concat([got, c])));
    const baud = Buffer.alloc(4);
    baud.writeUInt32BE(115200);
    peer.write(
      Buffer.from([
        ...[IAC, WILL, COM_PORT],
        ...[IAC, SB, COM_PORT, SET_BAUDRATE, ...baud, IAC, SE],
        ...[IAC, SB, COM_PORT, SET_PARITY, PARITY_EVEN, IAC, SE],
        ...[IAC, SB, COM_PORT, SET_CONTROL, DTR_OFF, IAC, SE],
      ]),
    );
    await until(() => [100 + SET_BAUDRATE, 100 + SET_PARITY, 1000].every((c) => answers(got).has(c)));
    const a = answers(got);
    assert.equal(a.get(100 + SET_BAUDRATE)!.readUInt32BE(0), 9600, 'the baud in force');
    assert.deepEqual([...a.get(100 + SET_PARITY)!], [PARITY_NONE], 'the parity in force');
    assert.deepEqual([...a.get(1000)!], [DTR_ON], 'DTR as it is');
    const stty = await runTool('stty', ['-a', '-F', vm.slave]);
    assert.match(stty.stdout.toString(), /speed 9600 baud;[\s\S]*-parenb/, 'and the port was not changed');
  } finally {
    peer?.destroy();
    await pb.stop();
    await vm.quit();
  }
});

test('tcp-listen?telnet&readonly: pyserial rfc2217:// asking for 115200 is told the remote rejected it', async () => {
  const vm = await startFakeVm();
  const pb = await startPtyb([`serial:${vm.slave}?line=9600,8n1`, 'tcp-listen:0?telnet&readonly']);
  try {
    const script = [
      'import serial, sys',
      `s = serial.serial_for_url("rfc2217://127.0.0.1:${pb.listening[0]!.port}", baudrate=9600, timeout=1)`,
      'print("open at 9600")',
      'try:',
      '    s.baudrate = 115200',
      '    print("accepted 115200")',
      'except ValueError as e:',
      '    print("refused:", e)',
      's.close()',
    ].join('\n');
    const r = await runTool('/usr/bin/python3', ['-c', script]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.toString().trim(), "open at 9600\nrefused: remote rejected value for option 'baudrate'");
  } finally {
    await pb.stop();
    await vm.quit();
  }
});

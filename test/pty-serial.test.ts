// pty:?link= (a new pair) with serial: and pyserial on its slave: binary-clean both ways, line settings, lock, bad input.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type net from 'node:net';
import { runPtyb, runTool, sha256, startPtyb, writeAll } from './helpers/ptyb.js';
import { readBytes, specFor, connectPeer, until } from './helpers/devices.js';
import { serial } from '../src/endpoints/serial.js';
import type { ConnectingType, Spec } from '../src/core/endpoint.js';
import { createLogger } from '../src/log.js';

const tmp = mkdtempSync(join(tmpdir(), 'ptyb-serial-'));
test.after(() => rmSync(tmp, { recursive: true, force: true }));

/** Sends `size` random bytes each way between two peers that stay open, and checks both. */
async function bothWaysExact(a: net.Socket, b: net.Socket, size: number): Promise<void> {
  const ab = randomBytes(size);
  const ba = randomBytes(size);
  const [atB, atA] = await Promise.all([readBytes(b, size), readBytes(a, size), writeAll(a, ab, { keepOpen: true }), writeAll(b, ba, { keepOpen: true })]);
  assert.equal(sha256(atB), sha256(ab), 'a→b bytes');
  assert.equal(sha256(atA), sha256(ba), 'b→a bytes');
}

test('pty:?link= and serial: on its slave: 10 MiB both ways at once, byte-exact; the link goes away on exit', async () => {
  const link = join(tmp, 'ttyV0');
  const side = await startPtyb(['-v', `pty:?link=${link}&replay=0`, 'tcp-listen:0']);
  const port = await startPtyb(['-v', `serial:${link}?line=115200,8n1&replay=0`, 'tcp-listen:0']);
  try {
    const a = await connectPeer(side.listening[0]!.port);
    const b = await connectPeer(port.listening[0]!.port);
    // Bytes a hub reads before its peer has joined go to nobody: start once both have one.
    for (const pb of [side, port]) await until(() => pb.stderr().includes('connected (1 peer)'));
    await bothWaysExact(a, b, 10 * 1024 * 1024);
    a.destroy();
    b.destroy();
  } finally {
    await port.stop();
    await side.stop();
  }
  assert.equal(existsSync(link), false, 'the link is removed on exit');
});

test('pyserial opens the slave of pty:?link= as if it were a serial port', async () => {
  const link = join(tmp, 'ttyV1');
  const pb = await startPtyb([`pty:?link=${link}`, 'tcp-listen:0']);
  try {
    const client = await connectPeer(pb.listening[0]!.port);
    const script = [
      'import serial, sys',
      `s = serial.Serial(${JSON.stringify(link)}, 115200, timeout=20)`,
      's.write(bytes(range(256)) + b"ping-from-pyserial\\n")',
      'got = s.read_until(b"pong\\n")',
      'sys.stdout.write(got.hex())',
    ].join('\n');
    const py = runTool('/usr/bin/python3', ['-c', script]);
    const fromPy = await readBytes(client, 256 + 19);
    assert.deepEqual(fromPy.subarray(0, 256), Buffer.from(Array.from({ length: 256 }, (_, i) => i)), 'all 256 byte values, untranslated');
    assert.equal(fromPy.subarray(256).toString(), 'ping-from-pyserial\n');
    client.write(Buffer.from([0, 3, 4, 13, 10, 17, 19, 127, 255]));
    client.write('pong\n');
    const res = await py;
    assert.equal(res.code, 0, res.stderr);
    assert.equal(res.stdout.toString(), Buffer.concat([Buffer.from([0, 3, 4, 13, 10, 17, 19, 127, 255]), Buffer.from('pong\n')]).toString('hex'));
    client.destroy();
  } finally {
    await pb.stop();
  }
});

test('serial: setLine changes the line and returns what is in force; sendBreak and setModem are there', async () => {
  const link = join(tmp, 'ttyV2');
  const pb = await startPtyb([`pty:?link=${link}`, 'tcp-listen:0']);
  try {
    const ep = { spec: (await specFor(`serial:${link}?baud=9600`, serial)) as Spec };
    const type = serial as ConnectingType;
    const ctl = new AbortController();
    const linkObj = await type.open(ep.spec, { log: createLogger('error'), signal: ctl.signal });
    try {
      const inForce = await linkObj.setLine!({ baud: 19200, dataBits: 7, parity: 'even', stopBits: 2 });
      // A pty keeps the speed and stop bits but forces 8 bits without parity: setLine
      // returns what is really in force, not what was asked.
      assert.deepEqual(inForce, { baud: 19200, dataBits: 8, parity: 'none', stopBits: 2, flow: 'none' });
      const stty = (await runTool('stty', ['-F', link, '-a'])).stdout.toString();
      assert.match(stty, /speed 19200 baud/);
      assert.match(stty, /(^|\s)cs8(\s|$)/);
      assert.match(stty, /(^|\s)cstopb(\s|$)/);
      assert.equal(typeof linkObj.sendBreak, 'function');
      assert.equal(typeof linkObj.setModem, 'function');
    } finally {
      linkObj.stream.destroy();
    }
  } finally {
    await pb.stop();
  }
});

test('serial: a port already in use is refused (exit 1); a bad baud or line is a usage error (exit 2); a missing port is ENOENT', async () => {
  const link = join(tmp, 'ttyV3');
  const side = await startPtyb([`pty:?link=${link}`, 'tcp-listen:0']);
  const first = await startPtyb([`serial:${link}`, 'tcp-listen:0']);
  try {
    const second = await runPtyb([`serial:${link}`, 'tcp-listen:0']);
    assert.equal(second.code, 1);
    assert.match(second.stderr, /EBUSY/);
  } finally {
    await first.stop();
    await side.stop();
  }
  for (const bad of ['serial:/dev/ttyS0?baud=fast', 'serial:/dev/ttyS0?baud=0', 'serial:/dev/ttyS0?line=9600,9x1', 'serial:/dev/ttyS0?parity=sometimes']) {
    const res = await runPtyb([bad, 'tcp-listen:0']);
    assert.equal(res.code, 2, bad);
    assert.match(res.stderr, /option "(baud|line|parity)" expects/);
  }
  const missing = await runPtyb([`serial:${join(tmp, 'ttyNone')}`, 'tcp-listen:0']);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /ENOENT/);
});

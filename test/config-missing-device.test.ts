// --config with a device that is not there at start: the other routes serve at once, the missing one waits (shown down) and comes up when it appears; a bare /dev/pts/N is not waited for.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import WebSocket from 'ws';
import { startFakeVm, type FakeVm } from './helpers/devices.js';
import { until } from './helpers/until.js';
import { connectTcp, freePort, readUntil, spawnTracked, startPtyb } from './helpers/ptyb.js';

const dir = mkdtempSync(join(tmpdir(), 'ptyb-missing-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const TOKEN = 'missing-device-test';

const yaml = (routes: { name: string; left: string; right: string }[]) =>
  ['version: 1', 'routes:', ...routes.flatMap((r) => [`  - name: ${r.name}`, `    left: ${r.left}`, `    right: ${r.right}`])].join('\n') + '\n';

/** A ws peer of a console path; `take(n)` resolves with exactly the next n bytes it received. */
async function peer(port: number, path: string) {
  const ws = new WebSocket(`ws://127.0.0.1:${port}${path}?token=${TOKEN}`, ['binary'], { perMessageDeflate: false });
  // Listening before 'open': the replay can arrive in the same read as the upgrade.
  let buf = Buffer.alloc(0);
  let wake = () => {};
  ws.on('message', (d: Buffer) => {
    buf = Buffer.concat([buf, d]);
    wake();
  });
  await once(ws, 'open');
  const take = async (n: number): Promise<Buffer> => {
    while (buf.length < n) await new Promise<void>((r) => (wake = r));
    const out = buf.subarray(0, n);
    buf = buf.subarray(n);
    return out;
  };
  return { ws, take };
}

type Peer = Awaited<ReturnType<typeof peer>>;
/** The device side of a console: what it writes, and every byte it has received. */
interface DeviceSide {
  send(bytes: Buffer): Promise<void>;
  received(): Buffer;
}

/** Device → peer and peer → device, 64 KiB of random bytes each way, byte-exact. */
async function exchange(device: DeviceSide, { ws, take }: Peer): Promise<void> {
  const down = randomBytes(64 * 1024);
  await device.send(down);
  assert.ok((await take(down.length)).equals(down), 'device → peer bytes differ');
  const up = randomBytes(64 * 1024);
  const before = device.received().length;
  ws.send(up);
  await until(() => device.received().length >= before + up.length, { what: `the device to receive ${up.length} more bytes` });
  assert.ok(device.received().subarray(before).equals(up), 'peer → device bytes differ');
}

/** The fake VM (a python pty holder): a pty writes a few KiB at a time, so bytes go through a file it writes whole. */
function vmSide(vm: FakeVm): DeviceSide {
  return {
    async send(bytes) {
      const file = join(dir, 'down.bin');
      writeFileSync(file, bytes);
      await vm.sendFile(file);
    },
    received: () => vm.received(),
  };
}

/** socat's pty with link=: the device appears at `link` when socat starts; its stdin/stdout are the device side. */
function socatPty(link: string): DeviceSide & { proc: ReturnType<typeof spawnTracked> } {
  const proc = spawnTracked('socat', [`PTY,link=${link},rawer,wait-slave`, 'STDIO']);
  const rx: Buffer[] = [];
  proc.stdout!.on('data', (d: Buffer) => rx.push(d));
  return {
    proc,
    send: (bytes) => new Promise((resolve, reject) => proc.stdin!.write(bytes, (err) => (err ? reject(err) : resolve()))),
    received: () => Buffer.concat(rx),
  };
}

test('a missing serial: device waits while the working route serves; it comes up when its path appears', async () => {
  const port = await freePort();
  const working = await startFakeVm();
  const late = join(dir, 'ttyUSB7');
  const file = join(dir, 'consoles.yaml');
  writeFileSync(
    file,
    yaml([
      { name: 'vm1', left: `pty:${working.slave}?replay=bytes`, right: `ws-listen:${port}/vm1?token=${TOKEN}` },
      { name: 'usb7', left: `serial:${late}?baud=115200`, right: `ws-listen:${port}/usb7?token=${TOKEN}` },
    ]),
  );
  const pb = await startPtyb(['--config', file], { listeners: 2 });
  const peers: Awaited<ReturnType<typeof peer>>[] = [];
  let late2: ReturnType<typeof socatPty> | undefined;
  try {
    await pb.logged(new RegExp(`\\[usb7\\] serial:${late}\\?baud=115200: ENOENT \\(no such file or directory\\); waiting for it`));
    // The index shows it down; the working console serves at once, byte-exact.
    const index = await (await fetch(`http://127.0.0.1:${port}/?token=${TOKEN}`)).text();
    assert.match(index, /usb7[\s\S]*lost/);
    peers.push(await peer(port, '/vm1'));
    assert.equal((await peers[0]!.take(7)).toString(), 'login: '); // the fake VM's greeting, replayed as bytes
    await exchange(vmSide(working), peers[0]!);

    // The device appears (a USB adapter plugged in: here socat's pty behind the awaited path).
    late2 = socatPty(late);
    await readUntil(pb.proc.stderr!, /\[usb7\] serial .*ttyUSB7 is up/);
    peers.push(await peer(port, '/usb7'));
    await exchange(late2, peers[1]!);
  } finally {
    peers.forEach((p) => p.ws.terminate());
    const { code } = await pb.stop();
    working.proc.kill();
    late2?.proc.kill();
    assert.equal(code, 0);
  }
});

test('a bare /dev/pts/N missing at start is not waited for: that route does not start, the others serve', async () => {
  const working = await startFakeVm();
  const file = join(dir, 'stale.yaml');
  // A pty number far above what this machine hands out (kernel.pty.max is 4096 by default).
  writeFileSync(
    file,
    yaml([
      { name: 'vm1', left: `pty:${working.slave}`, right: 'tcp-listen:0' },
      { name: 'stale', left: 'pty:/dev/pts/999999', right: 'tcp-listen:0' },
    ]),
  );
  const pb = await startPtyb(['--config', file], { listeners: 1 });
  try {
    await until(() => /\[stale\] not started/.test(pb.stderr()), { what: 'the "[stale] not started" line', detail: () => pb.stderr() });
    await pb.logged(/\[stale\] not started: pty:\/dev\/pts\/999999: ENOENT \(no such file or directory\); a numbered pty is not waited for: /);
    assert.doesNotMatch(pb.stderr(), /\[stale\] listening/);
    const c = await connectTcp(pb.listening[0]!.port);
    await readUntil(c, 'login: ');
    c.destroy();
  } finally {
    const { code } = await pb.stop();
    working.proc.kill();
    assert.equal(code, 0);
  }
});

test('on the command line, --wait-for-device waits for a hub device the same way (without it: exit 1, as socat)', async () => {
  const late = join(dir, 'ttyCli');
  const pb = await startPtyb(['--wait-for-device', `serial:${late}`, 'tcp-listen:0']);
  let dev: ReturnType<typeof socatPty> | undefined;
  const c = await connectTcp(pb.listening[0]!.port);
  try {
    await pb.logged(/ENOENT \(no such file or directory\); waiting for it/);
    await readUntil(c, `[ptybridge: device serial:${late} is down; waiting for it]\r\n`);
    dev = socatPty(late);
    await readUntil(c, `[ptybridge: device serial:${late} is up]\r\n`);
    await dev.send(Buffer.from('hello from the device\n'));
    await readUntil(c, 'hello from the device\n');
    c.write('typed');
    await until(() => dev!.received().toString() === 'typed', {
      what: 'the device to receive "typed"',
      detail: () => JSON.stringify(dev!.received().toString()),
    });
  } finally {
    c.destroy();
    const { code } = await pb.stop();
    dev?.proc.kill();
    assert.equal(code, 0);
  }
});

// pty: against a fake VM's real pty (as QEMU makes it): fan-out, replay, device loss, bad input.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectTcp, runPtyb, runTool, sha256, spawnTracked, startPtyb } from './helpers/ptyb.js';
import { readBytes, readText, startFakeVm, until, connectPeer } from './helpers/devices.js';

const tmp = mkdtempSync(join(tmpdir(), 'ptyb-pty-'));
test.after(() => rmSync(tmp, { recursive: true, force: true }));

test('QEMU-like pty: three socat/net clients get exactly the same bytes, and each one\'s input reaches the device', async () => {
  const vm = await startFakeVm();
  const pb = await startPtyb(['-v', `pty:${vm.slave}?replay=bytes`, 'tcp-listen:0']);
  try {
    const port = pb.listening[0]!.port;
    const clients = [await connectPeer(port), await connectPeer(port), await connectPeer(port)];
    await until(() => pb.stderr().includes('(3 peers)'));
    // Each got the prompt from the replay; then 1 MiB of console output in one go.
    const payload = randomBytes(1024 * 1024);
    const file = join(tmp, 'console.bin');
    writeFileSync(file, payload);
    const reads = clients.map((c) => readBytes(c, 'login: '.length + payload.length));
    await vm.sendFile(file);
    const got = await Promise.all(reads);
    for (const g of got) {
      assert.equal(g.subarray(0, 7).toString(), 'login: ');
      assert.equal(sha256(g.subarray(7)), sha256(payload));
    }
    clients.forEach((c, i) => c.write(`from-client-${i}\n`));
    for (let i = 0; i < 3; i++) await vm.waitReceived(`from-client-${i}\n`);
    // A real socat client too: its line reaches the device, and it sees the device's answer.
    const socat = spawnTracked('socat', ['-', `TCP:127.0.0.1:${port}`]);
    socat.stdin!.write('socat-says-hi\n');
    await vm.waitReceived('socat-says-hi\n');
    vm.say('bye\r\n');
    for (const c of clients) assert.match(await readText(c, 'bye\r\n'), /bye/);
    await readText(socat.stdout!, 'bye\r\n');
    socat.kill();
    clients.forEach((c) => c.destroy());
    pb.proc.kill('SIGTERM');
    assert.equal((await pb.exited).code, 0);
  } finally {
    await pb.stop();
    await vm.quit();
  }
});

test('replay: a late peer first receives the recent output, capped at replay=', async () => {
  const vm = await startFakeVm();
  const pb = await startPtyb(['-v', `pty:${vm.slave}?replay=64`, 'tcp-listen:0']);
  try {
    const early = await connectPeer(pb.listening[0]!.port);
    const history = Buffer.from(Array.from({ length: 100 }, (_, i) => `${i % 10}`).join(''));
    vm.say(history);
    await readBytes(early, 7 + history.length);
    const late = await connectPeer(pb.listening[0]!.port);
    const replayed = await readBytes(late, 64);
    assert.equal(replayed.toString(), Buffer.concat([Buffer.from('login: '), history]).subarray(-64).toString());
    vm.say('after\n');
    assert.equal((await readBytes(late, 6)).toString(), 'after\n');
    early.destroy();
    late.destroy();
  } finally {
    await pb.stop();
    await vm.quit();
  }
});

test('device loss and return: peers stay connected, get a notice, and bytes flow again from the new pty at the same link', async () => {
  const link = join(tmp, 'vm-console');
  let vm = await startFakeVm(link);
  const pb = await startPtyb(['-v', `pty:${link}`, 'tcp-listen:0']);
  try {
    const client = await connectPeer(pb.listening[0]!.port);
    await readBytes(client, 7); // the prompt
    await vm.quit(); // the VM powers off: its master closes, the link goes away
    const notice = await readText(client, 'reopening]\r\n');
    assert.match(notice, /\[ptybridge: device pty:\S+ lost: .*; reopening\]/);
    vm = await startFakeVm(link); // it boots again, with a new /dev/pts/N behind the same link
    await readText(client, 'is back]\r\n');
    vm.say('second boot\n');
    await readText(client, 'second boot\n');
    client.write('typed after reboot\n');
    await vm.waitReceived('typed after reboot\n');
    client.destroy();
  } finally {
    await pb.stop();
    await vm.quit();
  }
});

test('pty: a missing device is ENOENT, a regular file is ENOTTY, both exit 1', async () => {
  const missing = await runPtyb([`pty:${join(tmp, 'no-such-pty')}`, 'tcp-listen:0']);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /no-such-pty: ENOENT/);
  const file = join(tmp, 'plain-file');
  writeFileSync(file, 'x');
  const notTty = await runPtyb([`pty:${file}`, 'tcp-listen:0']);
  assert.equal(notTty.code, 1);
  assert.match(notTty.stderr, /ENOTTY/);
  assert.doesNotMatch(missing.stderr + notTty.stderr, /\n\s+at /, 'no stack trace');
});

test('pty: permission denied is EACCES, exit 1 (ptybridge run as nobody, device mode 0600)', async () => {
  const vm = await startFakeVm();
  try {
    chmodSync(vm.slave, 0o600);
    const res = await runTool('setpriv', ['--reuid=nobody', '--regid=nogroup', '--clear-groups', process.execPath, join(process.cwd(), 'dist/ptybridge.mjs'), `pty:${vm.slave}`, 'tcp-listen:0']);
    assert.equal(res.code, 1, res.stderr);
    assert.match(res.stderr, /EACCES/);
  } finally {
    await vm.quit();
  }
});

// pty: against a fake VM's real pty (as QEMU makes it): fan-out, replay, device loss, a reused pty number, bad input.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { readAll, runPtyb, runTool, sha256, spawnTracked, startPtyb, type Running } from './helpers/ptyb.js';
import { readBytes, readText, startFakeVm, until, connectPeer } from './helpers/devices.js';

const tmp = mkdtempSync(join(tmpdir(), 'ptyb-pty-'));
test.after(() => rmSync(tmp, { recursive: true, force: true }));

test("QEMU-like pty: three socat/net clients get exactly the same bytes, and each one's input reaches the device", async () => {
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
    // The history must be live output for the early peer: the hub has to have it first (a
    // join processed after it would get only the 64-byte replay, and this read would wait).
    await until(() => pb.stderr().includes('(1 peer)'));
    const history = Buffer.from(Array.from({ length: 100 }, (_, i) => `${i % 10}`).join(''));
    vm.say(history);
    await readBytes(early, 7 + history.length);
    const late = await connectPeer(pb.listening[0]!.port);
    const replayed = await readBytes(late, 64);
    assert.equal(
      replayed.toString(),
      Buffer.concat([Buffer.from('login: '), history])
        .subarray(-64)
        .toString(),
    );
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
    const res = await runTool('setpriv', [
      '--reuid=nobody',
      '--regid=nogroup',
      '--clear-groups',
      process.execPath,
      join(process.cwd(), 'dist/ptybridge.mjs'),
      `pty:${vm.slave}`,
      'tcp-listen:0',
    ]);
    assert.equal(res.code, 1, res.stderr);
    assert.match(res.stderr, /EACCES/);
  } finally {
    await vm.quit();
  }
});

/**
 * Takes a pty number the way the kernel gives it out: the lowest free one. Without argv it
 * first opens its own pty (the VM's), prints `slave PATH`, and on "reuse" closes it; with
 * argv (a number somebody else has) it waits for "reuse" too. Then it opens ptys (holding the others) until it has that same number again, raw, writes
 * "admin-secret-output\r\n" on it as its owner would, and prints `reused` (or `other` if
 * somebody else holds the number). On "check" it prints what the slave side still has to read
 * (`input HEX`) and what was written into the terminal (`typed HEX`).
 */
const REUSER = String.raw`
import os, sys, time, tty, fcntl
def fresh():
    m, s = os.openpty(); tty.setraw(s); return m, s
want = sys.argv[1] if len(sys.argv) > 1 else None
if want is None:
    m, s = fresh(); want = os.ttyname(s); print("slave", want, flush=True)
sys.stdin.readline()
if len(sys.argv) == 1: os.close(m); os.close(s)
held, deadline = [], time.time() + 20
while True:
    m, s = fresh()
    if os.ttyname(s) == want: break
    held.append((m, s))
    if time.time() > deadline: print("other", flush=True); sys.exit(0)
    time.sleep(0.002)
for a, b in held: os.close(a); os.close(b)
os.write(m, b"admin-secret-output\r\n")
print("reused", flush=True)
def drain(fd):
    fcntl.fcntl(fd, fcntl.F_SETFL, os.O_NONBLOCK); got = b""
    while True:
        try: d = os.read(fd, 65536)
        except OSError: return got
        if not d: return got
        got += d
for line in sys.stdin:
    if line.strip() == "check":
        print("input", drain(s).hex(), flush=True); print("typed", drain(m).hex(), flush=True)
`;

async function startReuser(want?: string) {
  const proc = spawnTracked('/usr/bin/python3', ['-c', REUSER, ...(want ? [want] : [])]);
  proc.stdout!.setEncoding('utf8');
  let out = '';
  proc.stdout!.on('data', (t: string) => (out += t));
  const line = async (re: RegExp, orElse = () => false) => {
    await until(() => re.test(out) || proc.exitCode !== null || orElse());
    return re.exec(out)?.[1];
  };
  return {
    proc,
    line,
    send: (text: string) => proc.stdin!.write(`${text}\n`),
    /** What the new terminal's slave still holds, and what was typed into it. */
    async check(): Promise<{ input: string; typed: string }> {
      proc.stdin!.write('check\n');
      const input = Buffer.from((await line(/input ([0-9a-f]*)\n/))!, 'hex').toString('latin1');
      const typed = Buffer.from((await line(/typed ([0-9a-f]*)\n/))!, 'hex').toString('latin1');
      return { input, typed };
    },
    async stop() {
      if (proc.exitCode === null) {
        proc.kill();
        await once(proc, 'exit');
      }
    },
  };
}

test("a lost /dev/pts/N is never reopened: its number, now another terminal's, gets nothing from the peers and gives them nothing; one line says why and what to use", async (t) => {
  const vm = await startReuser();
  let pb: Running | undefined;
  try {
    const slave = (await vm.line(/slave (\S+)\n/))!;
    pb = await startPtyb(['-v', `pty:${slave}`, 'tcp-listen:0']);
    const peer = await connectPeer(pb.listening[0]!.port);
    const seen = readAll(peer);
    await until(() => pb!.stderr().includes('(1 peer)'));
    vm.send('reuse'); // the VM stops; the next pty anybody opens gets its number
    const got = await vm.line(/(reused|other)\n/);
    if (got === 'other') return t.skip(`somebody else took ${slave} first`);
    peer.write('typed-by-web-peer\r');
    // Old main reopened the number after 100 ms ("is back"); the route now ends instead.
    await until(() => pb!.proc.exitCode !== null || pb!.stderr().includes('is back'));
    assert.doesNotMatch(pb.stderr(), /is back|reopening/);
    assert.equal((await pb.exited).code, 1, 'the device failed: exit 1');
    const lines = pb
      .stderr()
      .split('\n')
      .filter((l) => l.includes(' lost: '));
    assert.equal(lines.length, 1, pb.stderr());
    assert.match(
      lines[0]!,
      new RegExp(
        `^ptybridge: pty ${slave} lost: [^;]+; not reopened: a numbered pty does not come back: the kernel gives ${slave} to the next terminal anybody opens\\. .*unix:\\S+\\?share.*symlink`,
      ),
    );
    const atPeer = (await seen).toString('latin1');
    assert.ok(!atPeer.includes('admin-secret-output'), `the new terminal's output reached the peer: ${JSON.stringify(atPeer)}`);
    assert.match(atPeer, /\[ptybridge: device pty:\S+ lost: [^\]]+; it will not come back\]\r\n$/);
    const { input, typed } = await vm.check();
    assert.equal(input, 'admin-secret-output\r\n', "the new terminal's input is all still there, not read by ptybridge");
    assert.equal(typed, '', 'nothing was typed into the new terminal');
  } finally {
    await pb?.stop();
    await vm.stop();
  }
});

test('a symlink to a pty is followed only once its owner re-makes it: a stale link to a reused number is not', async () => {
  const link = join(tmp, 'vm-stale-link');
  let vm = await startFakeVm(link);
  const pb = await startPtyb(['-v', `pty:${link}`, 'tcp-listen:0']);
  const other = await startReuser(vm.slave);
  try {
    const peer = await connectPeer(pb.listening[0]!.port);
    await readText(peer, 'login: ');
    vm.proc.kill('SIGKILL'); // the VM dies; its link stays, pointing at its old number
    await once(vm.proc, 'exit');
    await readText(peer, 'reopening]\r\n');
    other.send('reuse');
    // The hub looks at the link with the other terminal behind it, and does not follow it
    // (old main did: "is back", and it read the other terminal's input).
    const refused = () => pb.stderr().includes('which is now another terminal') || pb.stderr().includes('is back');
    assert.equal(await other.line(/(reused|other)\n/, refused), 'reused', 'the old number was given to another terminal');
    await until(refused);
    assert.doesNotMatch(pb.stderr(), /is back/, 'followed the stale link into the other terminal');
    peer.write('typed-while-stale\r');
    vm = await startFakeVm(link); // the VM boots again and re-makes its link, to a new pty
    await readText(peer, 'is back]\r\n');
    vm.say('second boot\r\n');
    const after = await readText(peer, 'second boot\r\n');
    assert.ok(!after.includes('admin-secret-output'));
    peer.write('typed-after-boot\r');
    await vm.waitReceived('typed-after-boot\r');
    const { input, typed } = await other.check();
    assert.equal(input, 'admin-secret-output\r\n');
    assert.equal(typed, '');
    await pb.logged(
      new RegExp(
        `reopening pty:${link}: the link ${link} still points to /dev/pts/\\d+, which is now another terminal; waiting for its owner to re-make the link`,
      ),
    );
    peer.destroy();
  } finally {
    await pb.stop();
    if (vm.proc.signalCode === null) await vm.quit();
    await other.stop();
  }
});

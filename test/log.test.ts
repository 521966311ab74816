// --log: the session transcript (timestamps, events, rotation, a stuck disk never stalls data) and the -x trace labels.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, existsSync, statSync, createReadStream, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { acceptOne, connectTcp, readAll, readUntil, runTool, sha256, startPtyb, tcpServer, writeAll } from './helpers/ptyb.js';
import { connectPeer, readText, startFakeVm, until } from './helpers/devices.js';

const dirs: string[] = [];
const dir = () => {
  const d = mkdtempSync(join(tmpdir(), 'ptyb-log-'));
  dirs.push(d);
  return d;
};
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
const STAMP = /^\[\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\] /;

test("--log: the device side's output with a timestamp at each line start, connect and leave events, appended", async () => {
  const file = join(dir(), 'console.log');
  const upstream = await tcpServer((s) => {
    s.write('login: ');
    s.on('data', () => s.end('root\r\nwelcome\r\n# '));
  });
  for (const round of [1, 2]) {
    const pb = await startPtyb(['--log', file, 'tcp-listen:0', `tcp:127.0.0.1:${upstream.port}`]);
    try {
      const c = await connectTcp(pb.listening[0]!.port);
      await readUntil(c, 'login: ');
      c.end('secret-typed-by-peer\n');
      await readAll(c);
    } finally {
      await pb.stop();
    }
    const lines = readFileSync(file, 'utf8').split('\n');
    // Each round adds: connected, "login: root", "welcome", "# " + the left event on its own line.
    assert.equal(lines.filter((l) => / connected to /.test(l)).length, round, lines.join('\n'));
    assert.equal(lines.filter((l) => / left ---$/.test(l)).length, round);
  }
  const text = readFileSync(file, 'utf8');
  assert.ok(!text.includes('secret-typed-by-peer'), 'only the device side is logged');
  const lines = text.split('\n').filter((l) => l !== '');
  for (const l of lines) assert.match(l, STAMP, `every line starts with a timestamp: ${JSON.stringify(l)}`);
  const body = lines.map((l) => l.replace(STAMP, ''));
  assert.deepEqual(
    body.slice(0, 5).map((l) => l.replace(/tcp \S+/g, 'tcp X')),
    ['--- tcp X connected to tcp X ---', 'login: root\r', 'welcome\r', '# ', '--- tcp X left ---'],
  );
  await upstream.close();
});

test("--log on a shared device (hub): the device's bytes exactly, with peer join/leave and device lost/reopened in place", async () => {
  const d = dir();
  const file = join(d, 'vm.log');
  const link = join(d, 'vm-console');
  let vm = await startFakeVm(link); // prints "login: " on its console at boot
  const pb = await startPtyb(['--log', file, `pty:${link}?replay=bytes`, 'tcp-listen:0']);
  const logged = (text: string) => until(() => existsSync(file) && readFileSync(file, 'latin1').includes(text));
  try {
    vm.say(Buffer.from('boot line 1\r\nboot line 2\r\n\xff\x1b[0m', 'latin1')); // a raw 0xFF byte, not UTF-8
    await logged('\x1b[0m');
    vm.say('\r\n');
    await logged('\x1b[0m\r\n'); // the line is complete before the peer's event is written
    const peer = await connectPeer(pb.listening[0]!.port);
    await readText(peer, 'boot line 2\r\n');
    await logged('connected (1 peer)');
    vm.say('while connected\r\n');
    await readText(peer, 'while connected\r\n');
    peer.write('typed by the peer\r');
    await vm.waitReceived('typed by the peer\r');
    peer.destroy();
    await logged(' left ---');
    vm.say('nobody watching\r\n');
    await logged('nobody watching');
    await vm.quit(); // the VM powers off
    await logged(' lost: ');
    vm = await startFakeVm(link); // and boots again behind the same link
    await logged(' reopened ---');
    vm.say('second boot\r\n');
    await logged('second boot');
  } finally {
    await pb.stop();
    await vm.quit();
  }
  const text = readFileSync(file, 'latin1');
  assert.ok(!text.includes('typed by the peer'), 'peer input is not device output');
  const lines = text.split('\n');
  assert.equal(lines.pop(), '', 'the transcript ends with a line end');
  for (const l of lines) assert.match(l, STAMP, `every line starts with a timestamp: ${JSON.stringify(l)}`);
  const body = lines.map((l) =>
    l
      .replace(STAMP, '')
      .replace(/tcp 127\.0\.0\.1:\d+/, 'tcp PEER')
      .replace(/ lost: .*---$/, ' lost: WHY ---'),
  );
  assert.deepEqual(body, [
    `--- device pty ${link} attached ---`,
    'login: boot line 1\r',
    'boot line 2\r',
    '\xff\x1b[0m\r',
    '--- tcp PEER connected (1 peer) ---',
    'while connected\r',
    '--- tcp PEER left ---',
    'nobody watching\r',
    `--- device pty ${link} lost: WHY ---`,
    `--- device pty ${link} reopened ---`,
    'login: second boot\r',
  ]);
});

test('--log-max-size rotates: FILE, FILE.1 … FILE.keep, nothing older', async () => {
  const d = dir();
  const file = join(d, 'rot.log');
  const line = 'x'.repeat(99) + '\n';
  const upstream = await tcpServer((s) => {
    // Many separate writes so the transcript sees many batches.
    let n = 0;
    const tick = () => {
      if (n++ === 60) return s.end();
      s.write(line.repeat(5), () => setImmediate(tick));
    };
    tick();
  });
  const pb = await startPtyb(['--log', file, '--log-max-size', '2k', '--log-keep', '2', 'tcp-listen:0', `tcp:127.0.0.1:${upstream.port}`]);
  try {
    const c = await connectTcp(pb.listening[0]!.port);
    c.end();
    const got = await readAll(c);
    assert.equal(got.length, 60 * 500);
  } finally {
    await pb.stop();
    await upstream.close();
  }
  assert.ok(existsSync(file) && existsSync(`${file}.1`) && existsSync(`${file}.2`), 'FILE, FILE.1, FILE.2');
  assert.ok(!existsSync(`${file}.3`), 'no FILE.3 with --log-keep 2');
  assert.ok(statSync(`${file}.1`).size <= 2048, `FILE.1 is ${statSync(`${file}.1`).size} bytes`);
});

test('a log nobody can write (a FIFO with no reader, --log-fifo) never stalls data: 24 MiB pass byte-exact, the loss is counted', {
  timeout: 60_000,
}, async () => {
  const d = dir();
  const fifo = join(d, 'stuck.log');
  assert.equal((await runTool('mkfifo', [fifo])).code, 0);
  const payload = randomBytes(24 * 1024 * 1024);
  const upstream = await acceptOne();
  const gotUp = upstream.first;
  const pb = await startPtyb(['--log-fifo', '--log', fifo, 'tcp-listen:0', `tcp:127.0.0.1:${upstream.port}`]);
  try {
    const c = await connectTcp(pb.listening[0]!.port);
    const up = await gotUp;
    const [received] = await Promise.all([readAll(c), writeAll(up, payload)]);
    assert.equal(sha256(received), sha256(payload));
    // The peer leaves: that event is the next thing logged, and the drop note goes before it.
    c.end();
    // Now read the FIFO: the transcript says how much it had to drop.
    const reader = createReadStream(fifo);
    const seen = await readUntil(reader, /--- \d+ bytes lost: no reader on the FIFO; written again from here ---/);
    const dropped = Number(/--- (\d+) bytes lost/.exec(seen)![1]);
    // Transcript bytes: the payload with a timestamp at each of its line starts.
    assert.ok(dropped > 0 && dropped <= 2 * payload.length, String(dropped));
    reader.destroy();
    c.destroy();
  } finally {
    await pb.stop();
    await upstream.close();
  }
});

test('a device that prints an event line cannot forge one: written as device output, with a backslash in front (issue 21 item 5)', async () => {
  const file = join(dir(), 'forged.log');
  const forged = '--- alice typed "rm -rf /srv\\r" ---';
  const upstream = await tcpServer((s) => s.end(`${forged}\r\n`));
  const pb = await startPtyb(['--log', file, 'tcp-listen:0', `tcp:127.0.0.1:${upstream.port}`]);
  try {
    const c = await connectTcp(pb.listening[0]!.port);
    c.end();
    assert.equal((await readAll(c)).toString(), `${forged}\r\n`, "the peer gets the device's bytes as they are");
    await until(() => existsSync(file) && readFileSync(file, 'utf8').includes(' left ---'));
  } finally {
    await pb.stop();
    await upstream.close();
  }
  const body = readFileSync(file, 'utf8')
    .split('\n')
    .map((l) => l.replace(STAMP, ''));
  assert.ok(!body.some((l) => l.startsWith(forged)), body.join('\n'));
  assert.ok(body.includes(`\\${forged}\r`), body.join('\n'));
});

test('-x: the hex trace labels each direction, > left to right and < back (socat -x)', async () => {
  const upstream = await tcpServer((s) => s.end('from-device'));
  const pb = await startPtyb(['-x', 'tcp-listen:0', `tcp:127.0.0.1:${upstream.port}`]);
  try {
    const c = await connectTcp(pb.listening[0]!.port);
    c.end('from-peer');
    await readAll(c);
    await pb.stop();
    const err = pb.stderr();
    // As socat -x: `>` from the left address's side (the peer of tcp-listen), `<` back from the right (the upstream).
    assert.match(err, /^< \S+ tcp 127\.0\.0\.1:\d+ > tcp 127\.0\.0\.1:\d+ length=11$/m);
    assert.match(err, /^> \S+ tcp 127\.0\.0\.1:\d+ > tcp 127\.0\.0\.1:\d+ length=9$/m);
    assert.match(err, /from-device/);
    assert.match(err, /from-peer/);
  } finally {
    await pb.stop();
    await upstream.close();
  }
});

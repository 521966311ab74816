// Who may type: a view token and a ?readonly door next to a writer on one pty hub; the keyboard handed over under ?policy=exclusive.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runPtyb, startPtyb } from './helpers/ptyb.js';
import { connectPeer, readText, startFakeVm, until } from './helpers/devices.js';
import { openPeer, openWs } from './helpers/ws.js';
import { inTmux } from './helpers/tmux.js';

const tmp = mkdtempSync(join(tmpdir(), 'ptyb-roles-'));
test.after(() => rmSync(tmp, { recursive: true, force: true }));

const WRITE = 'write-token-Hk38';
const VIEW = 'view-token-Zq71';

test('one pty hub, a ws door with ?token and ?view-token, a tcp-listen:?readonly door: only the writer reaches the device, everyone sees it', async () => {
  const vm = await startFakeVm();
  const pb = await startPtyb(['-v', `pty:${vm.slave}`, `ws-listen:0?token=${WRITE}&view-token=${VIEW}`, 'tcp-listen:0?readonly'], { listeners: 2 });
  const [wsAt, tcpAt] = pb.listening;
  const url = (token?: string) => `ws://127.0.0.1:${wsAt!.port}/${token === undefined ? '' : `?token=${token}`}`;
  try {
    // No token, or a wrong one, is refused as before; the view token is no write token.
    await assert.rejects(openWs(url()), { status: 401 });
    await assert.rejects(openWs(url('not-it')), { status: 401 });
    const writer = await openPeer(url(WRITE));
    const viewer = await openPeer(url(), { headers: { Authorization: `Bearer ${VIEW}` } });
    const spy = await connectPeer(tcpAt!.port);
    // A plain WebSocket client that never asked for keyboard states (websocat) gets bytes only.
    const plain = await openWs(url(WRITE));
    const plainFrames: boolean[] = [];
    plain.on('message', (_d: Buffer, isBinary: boolean) => plainFrames.push(isBinary));
    await until(() => pb.stderr().includes('(4 peers)'));
    await pb.logged(/tcp 127\.0\.0\.1:\d+ connected, read-only \(3 peers\)/);
    assert.deepEqual(await writer.state((s) => s.peers === 4), { type: 'keyboard', you: 'typing', policy: 'shared', watching: 2, peers: 4 });
    assert.deepEqual(await viewer.state((s) => s.peers === 4), { type: 'keyboard', you: 'read-only', policy: 'shared', watching: 2, peers: 4 });

    vm.say('device-says-hello\n');
    await writer.text('device-says-hello\n');
    await viewer.text('device-says-hello\n');
    await readText(spy, 'device-says-hello\n');

    viewer.send('VIEWER-TYPED\r');
    spy.write('SPY-TYPED\r');
    await readText(spy, '[ptybridge: read-only: you may watch, not type]\r\n');
    // The viewer's page shows its badge instead of a line; its input is counted as refused when it leaves.
    viewer.close();
    await until(() =>
      /\(ws .*\) left: \d+ bytes to it, 13 bytes from it, 13 refused|ws 127\.0\.0\.1:\d+ left: \d+ bytes to it, 13 bytes from it, 13 refused/.test(pb.stderr()),
    );
    writer.send('writer-types\r');
    await vm.waitReceived('writer-types\r');
    assert.equal(vm.received().toString(), 'writer-types\r', 'only the writer reached the device');

    vm.say('after\n');
    await readText(spy, 'after\n');
    await writer.text('after\n');
    assert.ok(!pb.stderr().includes(VIEW) && !pb.stderr().includes(WRITE), 'no token in the log');
    await until(() => plainFrames.length >= 2); // the replay and the device's line
    assert.ok(plainFrames.every(Boolean), 'no text (JSON) frame to a client that did not ask');
    plain.close();
    writer.close();
    spy.destroy();
  } finally {
    await pb.stop();
    await vm.quit();
  }
});

test('?policy=exclusive: a page takes the keyboard, the holder is told and watches, a telnet peer gets a line; ?log-input records who typed what', async () => {
  const vm = await startFakeVm();
  const log = join(tmp, 'exclusive.log');
  const pb = await startPtyb(['-v', '--log', log, `pty:${vm.slave}?policy=exclusive&log-input`, `ws-listen:0?token=${WRITE}`, 'tcp-listen:0?telnet'], {
    listeners: 2,
  });
  const [wsAt, tcpAt] = pb.listening;
  const url = `ws://127.0.0.1:${wsAt!.port}/?token=${WRITE}`;
  try {
    const first = await openPeer(url);
    await first.state((s) => s.you === 'typing');
    const second = await openPeer(url);
    const telnet = await connectPeer(tcpAt!.port);
    await until(() => pb.stderr().includes('(3 peers)'));
    const held = await second.state((s) => s.peers === 3);
    assert.equal(held.you, 'watching');
    assert.match(held.holder!, /^ws 127\.0\.0\.1:\d+$/);
    assert.equal(held.watching, 2);

    // A watcher's keys do not reach the device (and do not take a held keyboard).
    second.send('not-yet\r');
    second.send({ type: 'take' });
    const moved = await first.state((s) => s.you === 'watching');
    assert.notEqual(moved.holder, held.holder, 'the keyboard moved to the other page');
    assert.equal((await second.state((s) => s.you === 'typing')).watching, 2);
    // The telnet peer had no page: it is told in one line.
    await readText(telnet, `[ptybridge: ${moved.holder} has the keyboard; you are watching]\r\n`);
    first.send('old-holder\r');
    second.send('new-holder\r');
    await vm.waitReceived('new-holder\r');

    // Letting go: nobody holds it, and the first to type takes it.
    second.send({ type: 'release' });
    await first.state((s) => s.holder === undefined);
    first.send('typed-takes-it\r');
    await vm.waitReceived('typed-takes-it\r');
    assert.equal(vm.received().toString(), 'new-holder\rtyped-takes-it\r');
    assert.equal((await second.state((s) => s.holder !== undefined)).you, 'watching');
    first.close();
    second.close();
    telnet.destroy();
    await until(() => (pb.stderr().match(/ left: /g) ?? []).length === 3);
  } finally {
    await pb.stop();
    await vm.quit();
  }
  const transcript = readFileSync(log, 'utf8');
  assert.match(transcript, /--- (ws 127\.0\.0\.1:\d+) took the keyboard from (ws 127\.0\.0\.1:\d+) ---\n/);
  assert.match(transcript, /--- ws 127\.0\.0\.1:\d+ let go of the keyboard ---\n/);
  assert.match(transcript, /--- ws 127\.0\.0\.1:\d+ typed "new-holder\\r" ---\n/);
  assert.doesNotMatch(transcript, /old-holder|not-yet/, 'refused input is not recorded as typed');
});

test('?readonly and ?view-token need a shared device: on a per-peer route they are usage errors', async () => {
  const r = await runPtyb(['tcp-listen:0?readonly', 'tcp:127.0.0.1:9']);
  assert.equal(r.code, 2);
  assert.equal(
    r.stderr,
    'ptybridge: tcp-listen:0?readonly: ?readonly is for the listeners of a shared device (pty:, serial:, file:, exec:…?share); here each peer gets its own connection, with nothing to watch\n',
  );
  const v = await runPtyb([`ws-listen:0?token=a&view-token=${VIEW}`, 'tcp:127.0.0.1:9']);
  assert.equal(v.code, 2);
  assert.match(v.stderr, /^ptybridge: ws-listen:0\?token=…&view-token=…: view-token= is for the listeners of a shared device/);
  const same = await runPtyb(['pty:', 'ws-listen:0?token=a&view-token=a']);
  assert.equal(same.code, 2);
  assert.match(same.stderr, /view-token= is the same as token=/);
});

test('the interactive client over ws: is told where the keyboard is, ~w takes it, ~s lets it go, ~? lists both', async () => {
  const vm = await startFakeVm();
  const pb = await startPtyb(['-v', `pty:${vm.slave}?policy=exclusive`, `ws-listen:0?token=${WRITE}`]);
  const port = pb.listening[0]!.port;
  const page = await openPeer(`ws://127.0.0.1:${port}/?token=${WRITE}`);
  await page.state((s) => s.you === 'typing');
  const t = await inTmux(['-v', '-', `ws://127.0.0.1:${port}/?token=${WRITE}`]);
  try {
    await t.waitFor(/\[ptybridge: ws 127\.0\.0\.1:\d+ has the keyboard; you are watching \(~w takes it\)\]/);
    await t.tmux('send-keys', '-l', '~?');
    await t.waitFor(/~w {2}take the keyboard[\s\S]*~s {2}let go of the keyboard/);
    await t.tmux('send-keys', '-l', '~w');
    await t.waitFor(/\[ptybridge: you have the keyboard\]/);
    assert.match((await page.state((s) => s.you === 'watching')).holder!, /^ws 127\.0\.0\.1:\d+$/, 'the page is told the terminal took it');
    await t.tmux('send-keys', '-l', 'from-the-terminal');
    await t.tmux('send-keys', 'Enter');
    await vm.waitReceived('from-the-terminal\r');
    await t.tmux('send-keys', '-l', '~s');
    await page.state((s) => s.holder === undefined);
    await t.waitFor(/\[ptybridge: nobody has the keyboard; type to take it\]/);
    assert.equal(vm.received().toString(), 'from-the-terminal\r', 'the escapes were not sent to the device');
    await t.tmux('send-keys', '-l', '~.');
    await t.waitFor(/EXITED=0/);
  } finally {
    await t.close();
    page.close();
    await pb.stop();
    await vm.quit();
  }
});

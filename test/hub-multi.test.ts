// One device, many doors: DEVICE tcp-listen ws-listen feed one hub (same bytes, replay, merged input, policies).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import WebSocket from 'ws';
import { runPtyb, sha256, startPtyb, tcpServer } from './helpers/ptyb.js';
import { connectPeer, readBytes, readText, startFakeVm, until } from './helpers/devices.js';
import { withToken, wsUrl } from './helpers/ws.js';

const tmp = mkdtempSync(join(tmpdir(), 'ptyb-hubmulti-'));
test.after(() => rmSync(tmp, { recursive: true, force: true }));

/** A ws client's received bytes, read like a stream: exactly n bytes, or up to a pattern. */
function wsReader(ws: WebSocket) {
  let buf = Buffer.alloc(0);
  let wake: (() => void) | undefined;
  let closed = false;
  ws.on('message', (data: Buffer) => {
    buf = Buffer.concat([buf, data]);
    wake?.();
  });
  ws.on('close', () => {
    closed = true;
    wake?.();
  });
  const more = () => {
    if (closed) throw new Error(`ws closed with ${buf.length} bytes unread: ${JSON.stringify(buf.subarray(-200).toString('latin1'))}`);
    return new Promise<void>((r) => (wake = r));
  };
  return {
    async bytes(n: number): Promise<Buffer> {
      while (buf.length < n) await more();
      const out = buf.subarray(0, n);
      buf = buf.subarray(n);
      return out;
    },
    async text(pattern: string): Promise<string> {
      let at: number;
      while ((at = buf.indexOf(pattern)) < 0) await more();
      const out = buf.subarray(0, at + pattern.length).toString('latin1');
      buf = buf.subarray(at + pattern.length);
      return out;
    },
  };
}

/**
 * Opens a ws client (binary subprotocol) with its reader attached before the handshake ends:
 * the hub sends the replay at once, and its frame can come in the same read as the 101
 * answer, delivered before an `await` on 'open' would return.
 */
async function openWsReader(port: number) {
  const ws = new WebSocket(wsUrl(port), ['binary'], { perMessageDeflate: false });
  const reader = wsReader(ws);
  await once(ws, 'open');
  return Object.assign(reader, { ws });
}

test('pty shared by tcp-listen and ws-listen: same bytes to both, replay for a late ws peer, input from both', async () => {
  const size = 4 * 1024 * 1024;
  const replay = 16 * 1024;
  const payload = randomBytes(size);
  const file = join(tmp, 'flood.bin');
  writeFileSync(file, payload);
  const vm = await startFakeVm();
  const pb = await startPtyb(['-v', `pty:${vm.slave}?peer-queue=16M&replay=${replay}`, 'tcp-listen:0', withToken('ws-listen:0')], { listeners: 2 });
  const [tcpAt, wsAt] = pb.listening;
  assert.equal(tcpAt!.scheme, 'tcp');
  assert.equal(wsAt!.scheme, 'ws');
  try {
    const tcp = await connectPeer(tcpAt!.port);
    const wsIn = await openWsReader(wsAt!.port);
    const ws = wsIn.ws;
    await until(() => pb.stderr().includes('(2 peers)'));
    // Whatever the device said before (the replay's "login: ") comes first; a marker ends it.
    vm.say('--ready--\n');
    await readText(tcp, '--ready--\n');
    await wsIn.text('--ready--\n');

    const sent = vm.sendFile(file);
    const [viaTcp, viaWs] = await Promise.all([readBytes(tcp, size), wsIn.bytes(size)]);
    await sent;
    assert.equal(sha256(viaTcp), sha256(payload), 'tcp peer got the device bytes');
    assert.equal(sha256(viaWs), sha256(payload), 'ws peer got the device bytes');

    // A ws peer that comes late gets the last `replay` bytes of the console, then lives output.
    const lateIn = await openWsReader(wsAt!.port);
    const late = lateIn.ws;
    assert.equal(sha256(await lateIn.bytes(replay)), sha256(payload.subarray(size - replay)), 'replay reached the late ws peer');
    await until(() => pb.stderr().includes('(3 peers)'));
    vm.say('after-late\n');
    await lateIn.text('after-late\n');

    // Input from every door reaches the device (policy shared).
    tcp.write('typed-by-tcp\n');
    await vm.waitReceived('typed-by-tcp\n');
    ws.send(Buffer.from('typed-by-ws\n'));
    await vm.waitReceived('typed-by-ws\n');
    late.send(Buffer.from('typed-by-late\n'));
    await vm.waitReceived('typed-by-late\n');
    tcp.destroy();
    ws.terminate();
    late.terminate();
  } finally {
    const res = await pb.stop();
    assert.equal(res.code, 0, pb.stderr());
    await vm.quit();
  }
});

test('policy=readonly refuses the tcp peer and the ws peer alike', async () => {
  const vm = await startFakeVm();
  const pb = await startPtyb(['-v', `pty:${vm.slave}?policy=readonly`, 'tcp-listen:0', withToken('ws-listen:0')], { listeners: 2 });
  try {
    const tcp = await connectPeer(pb.listening[0]!.port);
    const wsIn = await openWsReader(pb.listening[1]!.port);
    const ws = wsIn.ws;
    await until(() => pb.stderr().includes('(2 peers)'));
    tcp.write('TCP-REFUSED\n');
    ws.send(Buffer.from('WS-REFUSED\n'));
    await readText(tcp, 'read-only console]\r\n');
    await wsIn.text('read-only console]\r\n');
    vm.say('still-visible\n');
    await readText(tcp, 'still-visible\n');
    await wsIn.text('still-visible\n');
    tcp.destroy();
    ws.terminate();
    await until(() => (pb.stderr().match(/refused/g) ?? []).length >= 2);
    await pb.stop();
    assert.equal(vm.received().length, 0, `the device got ${JSON.stringify(vm.received().toString())}`);
  } finally {
    await pb.stop();
    await vm.quit();
  }
});

test('other shapes of three addresses are usage errors (exit 2); a listener that cannot bind is exit 1', async (t) => {
  const shape = /^ptybridge: with more than two addresses, the first must be a shared device .* and every other one a listener/;
  const cases: [string[], RegExp][] = [
    [['tcp:127.0.0.1:1', 'tcp-listen:0', 'ws-listen:0'], /tcp:127\.0\.0\.1:1 is opened once per peer, not shared$/m],
    [['tcp-listen:0', 'pty:', 'ws-listen:0'], /tcp-listen:0 is a listener$/m],
    [['pty:', 'tcp-listen:0', 'tcp:127.0.0.1:1'], /tcp:127\.0\.0\.1:1 is not a listener$/m],
  ];
  for (const [args, why] of cases) {
    await t.test(args.join(' '), async () => {
      const res = await runPtyb(args);
      assert.equal(res.code, 2, res.stderr);
      assert.match(res.stderr, shape);
      assert.match(res.stderr, why);
      assert.equal(res.stderr.trim().split('\n').length, 1, res.stderr);
    });
  }
  await t.test('--help shows the shape', async () => {
    const res = await runPtyb(['--help']);
    assert.equal(res.code, 0);
    assert.match(res.stdout.toString(), /ptybridge \[options\] DEVICE LISTENER \[LISTENER…\]/);
  });
  await t.test('second listener busy', async () => {
    const busy = await tcpServer(() => {});
    const vm = await startFakeVm();
    try {
      const res = await runPtyb([`pty:${vm.slave}`, 'tcp-listen:0', `ws-listen:${busy.port}`]);
      assert.equal(res.code, 1, res.stderr);
      assert.match(res.stderr, new RegExp(`^ptybridge: ws-listen:${busy.port}: EADDRINUSE`, 'm'));
    } finally {
      await busy.close();
      await vm.quit();
    }
  });
});

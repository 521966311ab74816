// Thousands of peers joining and leaving one console (issue 21 item 1): the hub keeps serving, caps the crowd, and stops on SIGTERM.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { sha256, startPtyb, tcpServer } from './helpers/ptyb.js';
import { until } from './helpers/until.js';
import { rawGet, TOKEN, withToken } from './helpers/ws.js';

/** Opens `count` connections, `atOnce` at a time; resolves with the sockets once every connect is done. */
async function join(port: number, count: number, atOnce = 64): Promise<net.Socket[]> {
  const sockets: net.Socket[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: atOnce }, async () => {
      while (next < count) {
        next++;
        const s = net.connect(port, '127.0.0.1');
        s.on('error', () => {});
        sockets.push(s);
        await once(s, 'connect');
      }
    }),
  );
  return sockets;
}

async function leave(sockets: net.Socket[]): Promise<void> {
  for (const s of sockets) s.destroy();
  await Promise.all(sockets.map((s) => (s.closed ? undefined : once(s, 'close'))));
}

test('3 000 peers join and leave a read-only door, past the default cap of 1 024: the web door answers, a peer gets the exact bytes, SIGTERM exits 0', {
  timeout: 240_000,
}, async () => {
  let device: net.Socket | undefined;
  const server = await tcpServer((s) => {
    device = s;
    s.resume();
  });
  const pb = await startPtyb(['--metrics', '0', `tcp:127.0.0.1:${server.port}?share`, 'tcp-listen:0?readonly', withToken('ws-listen:0')], { listeners: 2 });
  /** The peers the console counts now (its leavers are counted until their close reaches it). */
  const counted = async () => {
    const metrics = (await pb.logged(/metrics on (http:\/\/[^/\s]+)\/metrics/))[1];
    return ((await (await fetch(`${metrics}/api/consoles`)).json()) as { consoles: { peers: number }[] }).consoles[0]!.peers;
  };
  try {
    const door = pb.listening[0]!.port;
    const web = pb.listening[1]!.port;
    await until(() => device !== undefined, { what: 'the device to be opened' });
    // A watcher that stays through the churn: it must get the device's bytes, exactly.
    const reader = net.connect(door, '127.0.0.1');
    const got: Buffer[] = [];
    reader.on('data', (c: Buffer) => got.push(c));
    await once(reader, 'connect');

    // Two waves within the cap, joining and leaving.
    for (let wave = 0; wave < 2; wave++) await leave(await join(door, 1000));
    // Under load the last leavers' closes can still be on their way: the crowd must meet a console of one.
    await until(async () => (await counted()) === 1, { what: 'the console to count only the watcher' });
    // One past it: with the watcher, 1 024 peers are kept and the others closed at once.
    const crowd = await join(door, 1000 + 1000);
    const kept = () => crowd.filter((s) => !s.closed).length;
    await until(() => kept() === 1023, { what: '1023 of the crowd kept', detail: () => `${kept()} are open` });
    await leave(crowd);

    const page = await rawGet(web, `/?token=${TOKEN}`);
    assert.equal(page.status, 200, 'the web door answers after the churn');
    // An end mark after the payload: anything else (a stray notice) would be among the bytes before it.
    const payload = Buffer.concat([randomBytes(256 * 1024), Buffer.from('\r\n--end of the device stream--\r\n')]);
    device!.write(payload);
    await until(() => Buffer.concat(got).length >= payload.length, {
      what: 'the watcher to get the bytes',
      detail: () => `it has ${Buffer.concat(got).length}`,
    });
    assert.equal(sha256(Buffer.concat(got)), sha256(payload), 'byte-exact, nothing else');
    reader.destroy();

    // The refusals are said at the default level, a line a second at most (not one per peer).
    const refusals = pb.stderr().match(/refused, the console has 1024 peers \(\?max-peers=1024\)/g) ?? [];
    assert.ok(refusals.length >= 1 && refusals.length < 100, `${refusals.length} refusal lines for 977 refusals`);
  } finally {
    const { code, signal } = await pb.stop();
    await server.close();
    assert.deepEqual({ code, signal }, { code: 0, signal: null }, pb.stderr().slice(-2000));
  }
});

test('SIGTERM while thousands of peers join and leave: ptybridge exits 0', { timeout: 120_000 }, async () => {
  const pb = await startPtyb(['exec:cat?share&max-peers=100000', 'tcp-listen:0?readonly', withToken('ws-listen:0')], { listeners: 2 });
  const door = pb.listening[0]!.port;
  let churning = true;
  let joined = 0;
  const churn = Promise.all(
    Array.from({ length: 32 }, async () => {
      while (churning) {
        const s = net.connect(door, '127.0.0.1');
        s.on('error', () => {});
        await Promise.race([once(s, 'connect').then(() => joined++), once(s, 'close')]).catch(() => {});
        if (Math.random() < 0.5) s.destroy();
      }
    }),
  );
  try {
    // Thousands under way, however fast this machine makes them: then the signal comes in the middle of them.
    await until(() => joined >= 2000, { what: '2 000 peers to have joined', detail: () => `${joined} joined` });
    const { code, signal } = await pb.stop();
    assert.deepEqual({ code, signal }, { code: 0, signal: null }, pb.stderr().slice(-2000));
  } finally {
    churning = false;
    await churn;
    await pb.stop('SIGKILL');
  }
});

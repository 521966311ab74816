// The console API under hostile callers (issue 26): a catastrophic regex does not stall the console or the other callers, and waiting callers count toward ?max-peers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import http from 'node:http';
import net from 'node:net';
import { Payload } from './helpers/load.js';
import { runPtyb, sha256, startPtyb, tcpServer } from './helpers/ptyb.js';
import { until } from './helpers/until.js';

const TOKEN = 'limits-token';

/** A shared tcp device the test writes as, a tcp door for a real peer, and the API on a ws-listen door. */
async function withConsole(query: string, fn: (c: { device: net.Socket; door: number; web: number; deviceGot: () => Buffer }) => Promise<void>): Promise<void> {
  let device: net.Socket | undefined;
  const fromPeers: Buffer[] = [];
  const server = await tcpServer((s) => {
    device = s;
    s.on('data', (c: Buffer) => fromPeers.push(c));
  });
  const pb = await startPtyb([`tcp:127.0.0.1:${server.port}?share${query}`, 'tcp-listen:0', `ws-listen:0/con?token=${TOKEN}`], { listeners: 2 });
  try {
    await until(() => device !== undefined, { what: 'the device to be opened' });
    await fn({ device: device!, door: pb.listening[0]!.port, web: pb.listening[1]!.port, deviceGot: () => Buffer.concat(fromPeers) });
  } finally {
    await pb.stop();
    await server.close();
  }
}

/** One API call from a given local address (a caller of its own: waits are counted per caller). */
function call(
  port: number,
  action: string,
  body: unknown,
  localAddress = '127.0.0.1',
): Promise<{ status: number; body: any; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        localAddress,
        method: 'POST',
        path: `/api/consoles/con/${action}`,
        headers: { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/json' },
      },
      (res) => {
        let text = '';
        res.setEncoding('latin1');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(text), headers: res.headers }));
      },
    );
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

test('a catastrophic regex gets 422 and is stopped; meanwhile a peer gets 512 KiB byte-exact and another caller its match', { timeout: 120_000 }, async () => {
  await withConsole('', async ({ device, door, web }) => {
    const peer = net.connect(door, '127.0.0.1');
    const got: Buffer[] = [];
    let seen = 0;
    peer.on('data', (c: Buffer) => {
      got.push(c);
      seen += c.length;
    });
    await once(peer, 'connect');
    // 40 a's then b: (a+)+$ tries 2^40 ways to split them before it gives up.
    const bait = Buffer.from(`${'a'.repeat(40)}b\n`);
    device.write(bait);
    await until(() => seen >= bait.length, { what: 'the peer to get the bait' });
    const hostile = call(web, 'expect', { regex: '(a+)+$', since: 0, timeout: 30_000 });
    // Another caller (its own address) waits for a marker written after the flood.
    const other = call(web, 'expect', { regex: 'END-(\\d+)', since: bait.length, timeout: 60_000 }, '127.0.0.2');
    // Less than the console's 1 MiB ring: the bait is still there when the hostile call is read.
    const payload = new Payload().next(512 << 10);
    for (let i = 0; i < payload.length; i += 64 * 1024) device.write(payload.subarray(i, i + 64 * 1024));
    device.write('END-42\n');
    const all = Buffer.concat([bait, payload, Buffer.from('END-42\n')]);
    await until(() => seen >= all.length, { timeout: 60_000, what: 'the peer to get every byte', detail: () => `${seen} of ${all.length}` });
    assert.equal(sha256(Buffer.concat(got)), sha256(all), 'the peer got the bytes, exactly');
    const o = await other;
    assert.equal(o.status, 200, JSON.stringify(o.body));
    assert.deepEqual(o.body.groups, ['42']);
    const h = await hostile;
    assert.equal(h.status, 422, JSON.stringify(h.body).slice(0, 300));
    assert.match(h.body.error, /^regex \/\(a\+\)\+\$\/ ran over 1000 ms on \d+ bytes of output and was stopped \(catastrophic backtracking/);
    assert.equal(typeof h.body.next, 'number');
    // The same pattern through `ptybridge expect`: the message, exit 2 (a bad pattern, not a console fault).
    const cli = await runPtyb(['expect', `http://127.0.0.1:${web}/con`, '--send', `${'a'.repeat(40)}b`, '(a+)+$'], {
      env: { ...process.env, PTYBRIDGE_TOKEN: TOKEN },
    });
    assert.equal(cli.code, 2, cli.stderr);
    assert.match(cli.stderr, /^ptybridge expect: http:\/\/127\.0\.0\.1:\d+\/con: 422 regex \/\(a\+\)\+\$\/ ran over 1000 ms/);
    // And the console still answers a harmless pattern at once.
    device.write('after\n');
    assert.equal((await call(web, 'expect', { regex: 'after', since: 0, timeout: 10_000 })).status, 200);
    peer.destroy();
  });
});

test('3 000 waiting API callers against ?max-peers=64: 63 wait beside the peer, the rest get 503 with Retry-After; the peer keeps working both ways', {
  timeout: 180_000,
}, async () => {
  await withConsole('&max-peers=64', async ({ device, door, web, deviceGot }) => {
    const peer = net.connect(door, '127.0.0.1');
    const got: Buffer[] = [];
    peer.on('data', (c: Buffer) => got.push(c));
    await once(peer, 'connect');
    // The cheapest request that holds a wait, from 375 addresses (8 each: the per-caller
    // limit), written at once and not read until all are in.
    const request = `POST /api/consoles/con/expect HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${TOKEN}\r\nContent-Length: 40\r\n\r\n${JSON.stringify({ regex: 'never', timeout: 60000 }).padEnd(40)}`;
    const callers: { s: net.Socket; answer: string }[] = [];
    for (let i = 0; i < 3000; i++) {
      const s = net.connect({ port: web, host: '127.0.0.1', localAddress: `127.0.${1 + Math.floor(i / 8 / 250)}.${1 + (Math.floor(i / 8) % 250)}` });
      s.on('error', () => {});
      s.pause();
      s.write(request);
      callers.push({ s, answer: '' });
      if (i % 200 === 199) await Promise.all(callers.slice(-200).map((c) => once(c.s, 'connect').catch(() => {})));
    }
    // The real peer works through the crowd: to it and from it, byte for byte.
    const down = new Payload().next(1 << 20);
    const up = new Payload().next(1 << 20);
    device.write(down);
    peer.write(up);
    await until(() => Buffer.concat(got).length >= down.length && deviceGot().length >= up.length, { timeout: 60_000, what: 'the peer to get and send 1 MiB' });
    assert.equal(sha256(Buffer.concat(got)), sha256(down));
    assert.equal(sha256(deviceGot()), sha256(up));
    // Now read: 63 wait (no answer), every other one was refused.
    for (const c of callers) {
      c.s.setEncoding('latin1');
      c.s.on('data', (d: string) => (c.answer += d));
      c.s.resume();
    }
    const answered = () => callers.filter((c) => c.answer.includes('\r\n\r\n')).length;
    await until(() => answered() === 3000 - 63, { timeout: 60_000, what: '2 937 refusals', detail: () => `${answered()} answered` });
    for (const c of callers.filter((c) => c.answer)) {
      assert.match(c.answer, /^HTTP\/1\.1 503 Service Unavailable\r\n/);
      assert.match(c.answer, /\r\nRetry-After: 1\r\n/i);
      assert.match(c.answer, /"error":"the console has its most peers \(\?max-peers=64\), waiting callers included: try again later"/);
    }
    // The cap is the console's: a new peer at a door is closed too while the callers wait.
    const late = net.connect(door, '127.0.0.1');
    late.on('error', () => {});
    await once(late, 'close');
    // The waiting callers leave; their places are free again.
    for (const c of callers) c.s.destroy();
    const again = await until(
      async () => {
        const r = await call(web, 'wait-quiet', { ms: 10, timeout: 10_000 });
        return r.status === 200 ? r : undefined;
      },
      { timeout: 30_000, what: 'a wait to be let in again' },
    );
    assert.equal(again.body.quiet, true);
    peer.destroy();
  });
});

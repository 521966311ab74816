// tcp: and tcp-listen: against real sockets and socat.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import {
  acceptOne,
  connectTcp,
  freePort,
  readAll,
  runPtyb,
  runTool,
  sha256,
  spawnTracked,
  startPtyb,
  tcpServer,
  transferBothWays,
  waitForPort,
  writeAll,
} from './helpers/ptyb.js';

test('tcp-listen ↔ tcp: 10 MiB both ways at once, byte-exact', async () => {
  const upstream = await acceptOne();
  const upstreamSocket = upstream.first;
  const pb = await startPtyb(['tcp-listen:0', `tcp:127.0.0.1:${upstream.port}`]);
  try {
    const client = await connectTcp(pb.listening[0]!.port);
    await transferBothWays(client, await upstreamSocket);
  } finally {
    await pb.stop();
    await upstream.close();
  }
});

test('socat on both sides: a socat client through ptybridge to a socat echo server', async () => {
  const echoPort = await freePort();
  const echo = spawnTracked('socat', [`TCP-LISTEN:${echoPort},bind=127.0.0.1,reuseaddr,fork`, 'EXEC:cat']);
  await waitForPort(echoPort);
  const pb = await startPtyb(['tcp-l:0', `tcp:localhost:${echoPort}`]);
  try {
    const payload = randomBytes(10 * 1024 * 1024);
    const res = await runTool('socat', ['-t', '60', '-', `TCP:127.0.0.1:${pb.listening[0]!.port}`], { input: payload });
    assert.equal(res.code, 0, res.stderr);
    assert.equal(res.stdout.length, payload.length);
    assert.equal(sha256(res.stdout), sha256(payload));
  } finally {
    await pb.stop();
    echo.kill();
  }
});

test('tcp ↔ tcp: two connecting ends, bytes both ways, exit 0 when both close', async () => {
  const a = await acceptOne();
  const b = await acceptOne();
  const gotA = a.first;
  const gotB = b.first;
  const pb = await startPtyb([`tcp:127.0.0.1:${a.port}`, `tcp:127.0.0.1:${b.port}`], { listeners: 0 });
  try {
    await transferBothWays(await gotA, await gotB, 4 * 1024 * 1024);
    const { code } = await pb.exited;
    assert.equal(code, 0, pb.stderr());
  } finally {
    await pb.stop();
    await a.close();
    await b.close();
  }
});

test('half-close: a client that sends and shuts its write side still gets the whole reply', async () => {
  // The upstream answers only after the request has ended, then sends 3 MiB and closes.
  const reply = randomBytes(3 * 1024 * 1024);
  const upstream = await tcpServer(async (s) => {
    const request = await readAll(s);
    s.end(Buffer.concat([Buffer.from(`${request.length}:`), reply]));
  });
  const pb = await startPtyb(['tcp-listen:0', `tcp:127.0.0.1:${upstream.port}`]);
  try {
    const client = await connectTcp(pb.listening[0]!.port);
    const answer = readAll(client);
    await writeAll(client, Buffer.alloc(100_000, 7));
    const got = await answer;
    assert.equal(got.subarray(0, 7).toString(), '100000:');
    assert.equal(sha256(got.subarray(7)), sha256(reply));
  } finally {
    await pb.stop();
    await upstream.close();
  }
});

test('fork: 20 concurrent clients each get their own upstream connection and only their own bytes', async () => {
  let connections = 0;
  const upstream = await tcpServer((s) => {
    connections++;
    s.pipe(s); // echo, per connection
  });
  const pb = await startPtyb(['tcp-listen:0', `tcp:127.0.0.1:${upstream.port}`]);
  try {
    await Promise.all(
      Array.from({ length: 20 }, async (_, i) => {
        const payload = Buffer.concat([Buffer.from(`client-${i}:`), randomBytes(256 * 1024)]);
        const c = await connectTcp(pb.listening[0]!.port);
        const [echoed] = await Promise.all([readAll(c), writeAll(c, payload)]);
        assert.equal(sha256(echoed), sha256(payload), `client ${i} got its own bytes`);
      }),
    );
    assert.equal(connections, 20);
  } finally {
    await pb.stop();
    await upstream.close();
  }
});

test('IPv6 loopback: tcp-listen:[::1]:0 and tcp:[::1]:port', async () => {
  const pb = await startPtyb(['tcp-listen:[::1]:0', 'tcp-listen:[::1]:0'], { listeners: 2 });
  try {
    const [l, r] = pb.listening;
    assert.equal(l!.host, '::1');
    const a = await connectTcp(l!.port, '::1');
    const b = await connectTcp(r!.port, '::1');
    await transferBothWays(a, b, 1024 * 1024);
  } finally {
    await pb.stop();
  }
});

test('a bare port binds loopback and says so; ?max refuses extra peers', async () => {
  const upstream = await tcpServer((s) => s.pipe(s));
  const pb = await startPtyb(['tcp-listen:0?max=1', `tcp:127.0.0.1:${upstream.port}`]);
  try {
    assert.equal(pb.listening[0]!.host, '127.0.0.1');
    await pb.logged(/bound to loopback only/);
    const first = await connectTcp(pb.listening[0]!.port);
    first.write('one');
    await once(first, 'data');
    const second = await connectTcp(pb.listening[0]!.port);
    const secondGot = await readAll(second).catch(() => Buffer.alloc(0));
    assert.equal(secondGot.length, 0, 'the second peer is closed without data');
    first.end();
    await readAll(first);
  } finally {
    await pb.stop();
    await upstream.close();
  }
});

test('SIGTERM: stops accepting and exits 0', async () => {
  const pb = await startPtyb(['tcp-listen:0', 'tcp:127.0.0.1:9']);
  const { code } = await pb.stop('SIGTERM');
  assert.equal(code, 0);
  await assert.rejects(connectTcp(pb.listening[0]!.port), /ECONNREFUSED/);
});

test('bad input: one line naming the URI and the problem, exit 2 (usage) or 1 (runtime)', async (t) => {
  const busy = await tcpServer(() => {});
  const cases: [string[], number, RegExp][] = [
    [['nope:x', 'tcp:127.0.0.1:1'], 2, /^ptybridge: nope:x: unknown scheme "nope"/],
    [['tcp:localhost:1?nodelya', 'tcp-listen:0'], 2, /^ptybridge: tcp:localhost:1\?nodelya: unknown option "nodelya" \(did you mean "nodelay"\?\)/],
    [['tcp:localhost:99999', 'tcp-listen:0'], 2, /^ptybridge: tcp:localhost:99999: bad port "99999": expected a number 1-65535/],
    [['tcp:', 'tcp-listen:0'], 2, /^ptybridge: tcp:: expected host:port, got ""/],
    [['tcp:localhost:1?nodelay=maybe', 'tcp-listen:0'], 2, /option "nodelay" expects true\|false \(or bare\), got "maybe"/],
    [['tcp:localhost:1'], 2, /expected two addresses/],
    [['tcp:127.0.0.1:1', 'tcp-listen:0'.replace('0', String(busy.port))], 1, /^ptybridge: tcp-listen:\d+: EADDRINUSE \(address already in use\)/],
    [['tcp:127.0.0.1:1', 'tcp:127.0.0.1:2'], 1, /^ptybridge: tcp:127.0.0.1:1: ECONNREFUSED \(connection refused\)/],
  ];
  try {
    for (const [args, status, message] of cases) {
      await t.test(args.join(' '), async () => {
        const res = await runPtyb(args);
        assert.equal(res.code, status, res.stderr);
        assert.match(res.stderr, message);
        assert.equal(res.stderr.trim().split('\n').length, 1, `one line: ${res.stderr}`);
      });
    }
  } finally {
    await busy.close();
  }
});

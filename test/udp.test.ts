// udp: and udp-listen: against real datagram sockets and socat. UDP may drop under load, so
// bulk transfers here are flow-controlled: each side sends a window, then waits until the
// far end has it all. Nothing is left to luck, and no timing is asserted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import fs from 'node:fs';
import type { Writable } from 'node:stream';
import { acceptOne, connectTcp, freePort, runPtyb, sha256, spawnTracked, startPtyb, tcpServer } from './helpers/ptyb.js';
import { until } from './helpers/until.js';

const MiB = 1024 * 1024;
const WINDOW = 64 * 1024;

/** Collects what arrives, datagram by datagram or chunk by chunk; `waitFor(n)` resolves once n bytes are in. */
class Sink {
  chunks: Buffer[] = [];
  total = 0;
  private waiters: { n: number; resolve: () => void }[] = [];
  add = (chunk: Buffer) => {
    this.chunks.push(chunk);
    this.total += chunk.length;
    this.waiters = this.waiters.filter((w) => (this.total >= w.n ? (w.resolve(), false) : true));
  };
  waitFor(n: number): Promise<void> {
    if (this.total >= n) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ n, resolve }));
  }
  get bytes() {
    return Buffer.concat(this.chunks);
  }
}

/** Sends `data` a window at a time; `sink` is where it lands, so each window is acknowledged. */
async function sendWindowed(data: Buffer, send: (window: Buffer) => void, sink: Sink): Promise<void> {
  const base = sink.total;
  for (let off = 0; off < data.length; off += WINDOW) {
    const window = data.subarray(off, off + WINDOW);
    send(window);
    await sink.waitFor(base + off + window.length);
  }
}

/** A window as datagrams of varied sizes (at most 8192), so boundaries really vary. */
function sendDatagrams(socket: dgram.Socket, to: { port: number; address: string }) {
  return (window: Buffer) => {
    for (let off = 0, i = 0; off < window.length; i++) {
      const len = [8192, 1, 1400, 5000, 8192, 333][i % 6]!;
      socket.send(window.subarray(off, off + len), to.port, to.address);
      off += len;
    }
  };
}

async function udpSocket(host = '127.0.0.1'): Promise<dgram.Socket> {
  const s = dgram.createSocket({ type: host.includes(':') ? 'udp6' : 'udp4', recvBufferSize: 4 * MiB });
  s.bind(0, host);
  await once(s, 'listening');
  return s;
}

const tcpSend = (s: Writable) => (w: Buffer) => void s.write(w);

test('tcp-listen → udp: 10 MiB both ways at once through a datagram hop, byte-exact', async () => {
  const udpPeer = await udpSocket();
  const atUdp = new Sink();
  let ptybUdp!: dgram.RemoteInfo;
  const firstDatagram = new Promise<void>((r) =>
    udpPeer.on('message', (m, rinfo) => {
      ptybUdp = rinfo;
      assert.ok(m.length <= 8192, `datagram of ${m.length} bytes exceeds ?size`);
      atUdp.add(m);
      r();
    }),
  );
  const pb = await startPtyb(['tcp-listen:0', `udp:127.0.0.1:${udpPeer.address().port}`]);
  try {
    const client = await connectTcp(pb.listening[0]!.port);
    const atTcp = new Sink();
    client.on('data', atTcp.add);
    const ended = once(client, 'end');
    const down = randomBytes(10 * MiB);
    const up = randomBytes(10 * MiB);
    const tcpToUdp = sendWindowed(down, tcpSend(client), atUdp);
    await firstDatagram; // now the address of ptybridge's udp socket is known
    await Promise.all([tcpToUdp, sendWindowed(up, sendDatagrams(udpPeer, ptybUdp), atTcp)]);
    client.end(); // ptybridge ends its udp side, lingers, then ends ours
    await ended;
    assert.equal(sha256(atUdp.bytes), sha256(down), 'tcp → udp bytes');
    assert.equal(sha256(atTcp.bytes), sha256(up), 'udp → tcp bytes');
  } finally {
    await pb.stop();
    udpPeer.close();
  }
});

test('udp-listen → tcp: 10 MiB both ways at once; the first datagram opens the session', async () => {
  const upstream = await acceptOne();
  const upstreamSocket = upstream.first;
  const pb = await startPtyb(['udp-listen:0', `tcp:127.0.0.1:${upstream.port}`]);
  const udpPeer = await udpSocket();
  try {
    assert.equal(pb.listening[0]!.scheme, 'udp');
    await pb.logged(/udp-listen:0: bound to loopback only/);
    const atUdp = new Sink();
    udpPeer.on('message', (m) => atUdp.add(m));
    const atTcp = new Sink();
    const up = randomBytes(10 * MiB);
    const down = randomBytes(10 * MiB);
    const udpToTcp = sendWindowed(up, sendDatagrams(udpPeer, { port: pb.listening[0]!.port, address: '127.0.0.1' }), atTcp);
    const s = await upstreamSocket;
    s.on('data', atTcp.add);
    await Promise.all([udpToTcp, sendWindowed(down, tcpSend(s), atUdp)]);
    s.end();
    await once(s, 'end'); // after ?linger without datagrams, the session ends
    assert.equal(sha256(atTcp.bytes), sha256(up), 'udp → tcp bytes');
    assert.equal(sha256(atUdp.bytes), sha256(down), 'tcp → udp bytes');
  } finally {
    await pb.stop();
    udpPeer.close();
    await upstream.close();
  }
});

test('udp-listen ↔ udp: datagram boundaries are kept both ways; ?size splits larger ones', async () => {
  const far = await udpSocket();
  const near = await udpSocket();
  const pb = await startPtyb(['udp-listen:127.0.0.1:0?size=20000', `udp:127.0.0.1:${far.address().port}?size=20000`]);
  try {
    const sizes = [1, 100, 1400, 8192, 20000, 3];
    const sent = sizes.map((n) => randomBytes(n));
    const atFar = new Sink();
    const atNear = new Sink();
    let ptybOut!: dgram.RemoteInfo;
    far.on('message', (m, r) => ((ptybOut = r), atFar.add(m)));
    near.on('message', (m) => atNear.add(m));
    const total = sent.reduce((a, b) => a + b.length, 0);
    for (const d of sent) near.send(d, pb.listening[0]!.port, '127.0.0.1');
    await atFar.waitFor(total);
    assert.deepEqual(
      atFar.chunks.map((c) => c.length),
      sizes,
    );
    assert.deepEqual(atFar.chunks, sent);
    // Back the other way; 30000 bytes is more than ?size, so it leaves as 20000 + 10000.
    const back = [randomBytes(7), randomBytes(30000), randomBytes(1)];
    for (const d of back) far.send(d, ptybOut.port, ptybOut.address);
    await atNear.waitFor(30008);
    assert.deepEqual(
      atNear.chunks.map((c) => c.length),
      [7, 20000, 10000, 1],
    );
    assert.deepEqual(Buffer.concat(atNear.chunks), Buffer.concat(back));
  } finally {
    await pb.stop();
    far.close();
    near.close();
  }
});

test('IPv6: udp-listen:[::1]:0 answers the last sender', async () => {
  const echo = await tcpServer((s) => s.pipe(s));
  const pb = await startPtyb(['udp-listen:[::1]:0', `tcp:127.0.0.1:${echo.port}`]);
  const a = await udpSocket('::1');
  const b = await udpSocket('::1');
  try {
    assert.equal(pb.listening[0]!.host, '::1');
    const port = pb.listening[0]!.port;
    a.send('from a', port, '::1');
    assert.equal(String((await once(a, 'message'))[0]), 'from a');
    b.send('from b', port, '::1'); // same session, new last sender: the answer goes to b
    assert.equal(String((await once(b, 'message'))[0]), 'from b');
  } finally {
    await pb.stop();
    a.close();
    b.close();
    await echo.close();
  }
});

test('udp-listen holds one session at a time: when it ends, the next datagram opens a new one', async () => {
  let connections = 0;
  const upstream = await tcpServer((s) => {
    connections++;
    s.once('data', (d) => s.end(Buffer.concat([Buffer.from(`#${connections}:`), d]))); // answer once, then close
  });
  const pb = await startPtyb(['-v', 'udp-listen:0?linger=100ms', `tcp:127.0.0.1:${upstream.port}`]);
  const peer = await udpSocket();
  try {
    const port = pb.listening[0]!.port;
    for (const [i, word] of ['one', 'two'].entries()) {
      peer.send(word, port, '127.0.0.1');
      assert.equal(String((await once(peer, 'message'))[0]), `#${i + 1}:${word}`);
      // The upstream closed: the session lingers, ends, and the log says so.
      await until(() => (pb.stderr().match(/ left: /g) ?? []).length >= i + 1, { what: `session ${i + 1}'s "left:" line`, detail: () => pb.stderr() });
    }
    assert.equal(connections, 2);
  } finally {
    await pb.stop();
    peer.close();
    await upstream.close();
  }
});

/** Waits until a UDP port is bound on loopback (a peer tool starting up), from /proc/net/udp. */
async function waitForUdpPort(port: number): Promise<void> {
  const hex = `:${port.toString(16).toUpperCase().padStart(4, '0')} `;
  await until(() => fs.readFileSync('/proc/net/udp', 'utf8').includes(`0100007F${hex}`), { timeout: 10_000, what: `something to bind udp 127.0.0.1:${port}` });
}

/** Pushes `total` random bytes through a child's stdin and reads them back on its stdout, a window at a time. */
async function echoThroughChild(child: { stdin: Writable | null; stdout: NodeJS.ReadableStream | null }, total: number) {
  const data = randomBytes(total);
  const back = new Sink();
  child.stdout!.on('data', back.add);
  await sendWindowed(data, tcpSend(child.stdin!), back);
  assert.equal(sha256(back.bytes), sha256(data));
}

test('socat - UDP:… as the client of udp-listen, through to a tcp echo', async () => {
  const echo = await tcpServer((s) => s.pipe(s));
  const pb = await startPtyb(['udp-l:0', `tcp:127.0.0.1:${echo.port}`]);
  const socat = spawnTracked('socat', ['-b', '8192', '-', `UDP:127.0.0.1:${pb.listening[0]!.port}`]);
  try {
    await echoThroughChild(socat, 1 * MiB);
  } finally {
    socat.kill();
    await pb.stop();
    await echo.close();
  }
});

test('socat UDP-LISTEN as the server behind tcp-listen → udp:', async () => {
  const port = await freePort(); // free for TCP; UDP on loopback is all but certain to be free too
  const socat = spawnTracked('socat', [`UDP-LISTEN:${port},bind=127.0.0.1`, 'EXEC:cat']);
  await waitForUdpPort(port);
  const pb = await startPtyb(['tcp-listen:0', `udp:127.0.0.1:${port}`]);
  try {
    const client = await connectTcp(pb.listening[0]!.port);
    await echoThroughChild({ stdin: client, stdout: client }, 1 * MiB);
    client.destroy();
  } finally {
    await pb.stop();
    socat.kill();
  }
});

test('stdio ↔ udp: the reply arrives within ?linger after stdin ends; exit 0', async () => {
  const server = await udpSocket();
  server.on('message', (m, r) => server.send(Buffer.concat([Buffer.from('pong:'), m]), r.port, r.address));
  try {
    const res = await runPtyb(['-', `udp:127.0.0.1:${server.address().port}?linger=2s`], { input: 'ping' });
    assert.equal(res.code, 0, res.stderr);
    assert.equal(res.stdout.toString(), 'pong:ping');
  } finally {
    server.close();
  }
});

test('udp bad input: one line naming the URI and the problem, exit 2 (usage) or 1 (runtime)', async (t) => {
  const busy = await udpSocket();
  const closed = await udpSocket();
  const closedPort = closed.address().port;
  closed.close();
  const busyPort = busy.address().port;
  const cases: [string[], { input?: string }, number, string][] = [
    [['udp:localhost', '-'], {}, 2, 'ptybridge: udp:localhost: expected host:port, got "localhost"'],
    [['udp-listen:70000', '-'], {}, 2, 'ptybridge: udp-listen:70000: bad port "70000": expected a number 0-65535'],
    [
      ['udp:127.0.0.1:5?size=70000', '-'],
      {},
      2,
      'ptybridge: udp:127.0.0.1:5?size=70000: option "size" expects a size 1-65507 bytes, such as 4096 or 8k, got "70000"',
    ],
    [['udp:127.0.0.1:5?sise=1k', '-'], {}, 2, 'ptybridge: udp:127.0.0.1:5?sise=…: unknown option "sise" (did you mean "size"?)'],
    [['udp:::1:5', '-'], {}, 2, 'ptybridge: udp:::1:5: an IPv6 address needs brackets: [::1]:5'],
    [[`udp-listen:${busyPort}`, 'tcp:127.0.0.1:1'], {}, 1, `ptybridge: udp-listen:${busyPort}: EADDRINUSE (address already in use)`],
    [['-', `udp:127.0.0.1:${closedPort}`], { input: 'x' }, 1, `ptybridge: udp 127.0.0.1:${closedPort}: ECONNREFUSED (connection refused)`],
  ];
  try {
    for (const [args, opts, status, message] of cases) {
      await t.test(args.join(' '), async () => {
        const res = await runPtyb(args, opts);
        assert.equal(res.code, status, res.stderr);
        assert.equal(res.stderr, `${message}\n`);
      });
    }
  } finally {
    busy.close();
  }
});

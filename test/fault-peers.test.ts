// Peers that misbehave: one that never reads, one that goes silent, one that talks before its partner comes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import type net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { connectTcp, readAll, sha256, startPtyb, tcpServer, transferBothWays, writeAll } from './helpers/ptyb.js';
import { MiB, rssBytes } from './helpers/load.js';
import { until } from './helpers/until.js';

const PUSH = 200 * MiB;

/**
 * Samples ptybridge's RSS while a writer that ignores backpressure has handed `PUSH` bytes
 * to its socket, until the writer's buffer stops draining (the stall is complete).
 */
async function watchStall(pid: number, writer: net.Socket): Promise<{ rssMax: number; stalledAt: number }> {
  let rssMax = 0;
  let last = -1;
  let still = 0;
  // "Stopped draining" has no event: it is the buffer unchanged at 10 looks 50 ms apart.
  await until(
    () => {
      rssMax = Math.max(rssMax, rssBytes(pid));
      still = writer.writableLength === last ? still + 1 : 0;
      last = writer.writableLength;
      return still >= 10;
    },
    { what: "the writer's buffer to stop draining (the stall)", timeout: 60_000, step: 50, detail: () => `${writer.writableLength} bytes still queued` },
  );
  return { rssMax, stalledAt: last };
}

/** One echo round trip through the route: the others are not stalled by the slow one. */
async function echoWorks(port: number): Promise<void> {
  const c = await connectTcp(port);
  const payload = randomBytes(256 * 1024);
  const got = readAll(c);
  await writeAll(c, payload);
  assert.equal(sha256(await got), sha256(payload), 'another peer is served while one is stalled');
}

test('a peer that never reads: the per-peer upstream is paused (RSS bounded while 200 MiB are pushed), others served, nothing lost', async () => {
  const big = randomBytes(PUSH);
  let first = true;
  let pusher!: (s: net.Socket) => void;
  const pushing = new Promise<net.Socket>((r) => (pusher = r));
  const upstream = await tcpServer((s) => {
    if (first) {
      first = false;
      s.write(big); // all at once, ignoring backpressure: only ptybridge's can hold it back
      s.end();
      pusher(s);
    } else s.pipe(s);
  });
  const pb = await startPtyb(['tcp-listen:0', `tcp:127.0.0.1:${upstream.port}`]);
  try {
    const port = pb.listening[0]!.port;
    const rssStart = rssBytes(pb.proc.pid!);
    const slow = await connectTcp(port);
    slow.pause(); // connected, never reads
    const { rssMax, stalledAt } = await watchStall(pb.proc.pid!, await pushing);
    assert.ok(rssMax < rssStart + 64 * MiB, `RSS ${(rssStart / MiB).toFixed(0)} → max ${(rssMax / MiB).toFixed(0)} MiB while stalled`);
    assert.ok(stalledAt > PUSH - 64 * MiB, `ptybridge took only what socket buffers hold: ${((PUSH - stalledAt) / MiB).toFixed(1)} MiB left the pusher`);
    await echoWorks(port);
    // The slow peer reads at last and gets every byte, in order.
    const got = readAll(slow);
    slow.resume();
    slow.end();
    assert.equal(sha256(await got), sha256(big));
  } finally {
    await pb.stop();
    await upstream.close();
  }
});

test('an upstream that never reads: the peer is paused (RSS bounded while it pushes 200 MiB), nothing lost', async () => {
  const big = randomBytes(PUSH);
  let upstreamSide!: (s: net.Socket) => void;
  const upstreamSocket = new Promise<net.Socket>((r) => (upstreamSide = r));
  const upstream = await tcpServer((s) => {
    s.pause();
    upstreamSide(s);
  });
  const pb = await startPtyb(['tcp-listen:0', `tcp:127.0.0.1:${upstream.port}`]);
  try {
    const rssStart = rssBytes(pb.proc.pid!);
    const client = await connectTcp(pb.listening[0]!.port);
    client.write(big);
    client.end();
    const server = await upstreamSocket;
    const { rssMax, stalledAt } = await watchStall(pb.proc.pid!, client);
    assert.ok(rssMax < rssStart + 64 * MiB, `RSS ${(rssStart / MiB).toFixed(0)} → max ${(rssMax / MiB).toFixed(0)} MiB while stalled`);
    assert.ok(stalledAt > PUSH - 64 * MiB, `${((PUSH - stalledAt) / MiB).toFixed(1)} MiB left the client`);
    const got = readAll(server);
    server.resume();
    assert.equal(sha256(await got), sha256(big));
  } finally {
    await pb.stop();
    await upstream.close();
  }
});

test('?idle: a peer that goes silent and stops reading (half-open) is cut; an active peer on the same listener is not', async () => {
  let pusher = true;
  const upstream = await tcpServer((s) => {
    s.on('error', () => {}); // the cut peer's upstream is reset
    if (pusher) {
      pusher = false;
      s.write(randomBytes(32 * MiB)); // fills the silent peer's buffers, so our writes stall
    } else s.pipe(s);
  });
  const pb = await startPtyb(['tcp-listen:0?idle=2s', `tcp:127.0.0.1:${upstream.port}`]);
  try {
    const port = pb.listening[0]!.port;
    const silent = await connectTcp(port);
    silent.pause();
    silent.on('error', () => {});
    // The active peer talks every 100 ms, far inside the 2 s limit, and keeps talking until the
    // checks are done: a fixed 5 s of talk left it silent while a loaded machine was still
    // waiting for the silent one's cut, and then it was (rightly) cut too; and a count of
    // echoes fixed in advance assumed how many 100 ms sleeps fit in 5 s.
    // (Node may take up to twice the limit for a peer whose writes are stalled.)
    const active = await connectTcp(port);
    const started = Date.now();
    let echoed = '';
    let sent = 0;
    let talking = true;
    let activeError: Error | undefined;
    active.on('error', (e) => (activeError = e));
    active.setEncoding('latin1').on('data', (c: string) => (echoed += c));
    const talk = (async () => {
      while (talking && !active.destroyed) {
        active.write('x');
        sent++;
        await sleep(100); // the point: a peer that talks every 100 ms, well inside ?idle=2s
      }
    })();
    try {
      // The silent one is cut, after at least the limit; the active one talks for more than twice the limit.
      await until(() => /no traffic for 2000 ms/.test(pb.stderr()), { what: 'the ?idle line', detail: () => pb.stderr() });
      await until(() => Date.now() - started >= 5000, { what: '5 s of talk' });
      // The silent one was closed: once it reads again it finds the end of its stream.
      const ended = once(silent, 'end');
      silent.resume();
      await ended;
      silent.destroy();
      assert.equal(
        active.destroyed,
        false,
        `the active peer is still connected (${activeError?.message ?? 'no error'}, ${sent} bytes sent over ${Date.now() - started} ms)\n${pb.stderr()}`,
      );
    } finally {
      talking = false;
      await talk;
    }
    await until(() => echoed.length >= sent, { what: 'every byte the active peer sent, echoed', detail: () => `${echoed.length} of ${sent} came` });
    assert.equal(echoed, 'x'.repeat(sent));
    await pb.logged(/no traffic for 2000 ms \(\?idle\): closing/);
    await echoWorks(port);
    active.end();
  } finally {
    await pb.stop();
    await upstream.close();
  }
});

test('?keepalive: accepted and connected sockets probe silent peers (ss shows the keepalive timer)', async () => {
  let upstreamGot = '';
  const upstream = await tcpServer((s) => s.setEncoding('latin1').on('data', (d: string) => (upstreamGot += d)));
  const pb = await startPtyb(['tcp-listen:0?keepalive=45s', `tcp:127.0.0.1:${upstream.port}?keepalive=30s`]);
  try {
    const port = pb.listening[0]!.port;
    const c = await connectTcp(port);
    const ss = () => execFileSync('ss', ['-tnoH', 'state', 'established', `( sport = :${port} or dport = :${upstream.port} )`], { encoding: 'utf8' });
    await until(
      () =>
        /timer:\(keepalive/.test(ss()) &&
        ss()
          .split('\n')
          .filter((l) => /keepalive/.test(l)).length >= 2,
      { what: 'both sockets to run a keepalive timer', detail: ss },
    );
    c.destroy();
    // Off means off.
    const pb2 = await startPtyb(['tcp-listen:0?keepalive=0', `tcp:127.0.0.1:${upstream.port}?keepalive=0`]);
    try {
      const c2 = await connectTcp(pb2.listening[0]!.port);
      c2.write('x');
      // Through to the upstream: both sockets are set up, with whatever options they get.
      await until(() => upstreamGot.includes('x'), { what: "the peer's x at the upstream" });
      const lines = execFileSync('ss', ['-tnoH', 'state', 'established', `( sport = :${pb2.listening[0]!.port} )`], { encoding: 'utf8' });
      assert.doesNotMatch(lines, /keepalive/, lines);
      c2.destroy();
    } finally {
      await pb2.stop();
    }
  } finally {
    await pb.stop();
    await upstream.close();
  }
});

test('rendezvous: 256 KiB sent while waiting for a partner arrives first and in order; a waiting peer that leaves is not paired', async () => {
  const pb = await startPtyb(['tcp-listen:0', 'tcp-listen:0'], { listeners: 2 });
  try {
    const [l, r] = pb.listening;
    // A peer that comes and goes before anyone is there must not be the partner of the next.
    const ghost = await connectTcp(l!.port);
    ghost.end('ghost');
    await once(ghost, 'close');
    const early = await connectTcp(l!.port);
    const first = randomBytes(256 * 1024); // beyond the 64 KiB held: backpressure reaches the sender
    early.write(first);
    // Sent, and ptybridge has read from it while no partner is there (its socket's Recv-Q below what was sent).
    const recvQ = () => {
      const line = execFileSync('ss', ['-tnH', 'state', 'established', `( sport = :${l!.port} and dport = :${early.localPort} )`], { encoding: 'utf8' });
      return Number(line.trim().split(/\s+/)[0] ?? NaN);
    };
    await until(() => early.writableLength === 0 && recvQ() < first.length, {
      what: 'ptybridge to read the early bytes before a partner came',
      detail: () => `${early.writableLength} unsent, Recv-Q ${recvQ()}`,
    });
    const late = await connectTcp(r!.port);
    const got = readAll(late);
    const rest = randomBytes(MiB);
    await writeAll(early, rest);
    late.end();
    const all = await got;
    assert.equal(all.length, first.length + rest.length, 'no ghost bytes, nothing lost');
    assert.equal(sha256(all), sha256(Buffer.concat([first, rest])));
    const a = await connectTcp(l!.port);
    const b = await connectTcp(r!.port);
    await transferBothWays(a, b, MiB);
  } finally {
    await pb.stop();
  }
});

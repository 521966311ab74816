// ws-listen: and ws:/wss: against a plain `ws` client and against websockify itself.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type net from 'node:net';
import { connectTcp, sha256, startPtyb, tcpServer } from './helpers/ptyb.js';
import { openWs, startWebsockify, tcpExchange, withToken, wsTcpExchange, wsUrl } from './helpers/ws.js';

/** A TCP server whose next accepted socket is handed to the test. */
async function upstreamServer() {
  const queue: ((s: net.Socket) => void)[] = [];
  const pending: net.Socket[] = [];
  const server = await tcpServer((s) => {
    const take = queue.shift();
    if (take) take(s);
    else pending.push(s);
  });
  return {
    port: server.port,
    next: () => new Promise<net.Socket>((r) => (pending.length ? r(pending.shift()!) : queue.push(r))),
    close: () => server.close(),
  };
}

for (const protocol of ['binary', 'base64', 'none'] as const) {
  test(`ws-listen ↔ tcp: 10 MiB both ways, subprotocol ${protocol}, byte-exact`, async () => {
    const up = await upstreamServer();
    const pb = await startPtyb([withToken('ws-listen:0'), `tcp:127.0.0.1:${up.port}`]);
    try {
      assert.equal(pb.listening[0]!.scheme, 'ws');
      assert.equal(pb.listening[0]!.host, '127.0.0.1');
      await pb.logged(/bound to loopback only/);
      await wsTcpExchange(wsUrl(pb.listening[0]!.port), protocol, up.next());
    } finally {
      await pb.stop();
      await up.close();
    }
  });
}

// websockify 0.10 (Debian) dropped the base64 subprotocol; binary and none are what it speaks.
for (const protocol of ['binary', 'none'] as const) {
  test(`websockify ↔ tcp with the same client code: 10 MiB both ways, subprotocol ${protocol}`, async () => {
    const up = await upstreamServer();
    const wsf = await startWebsockify(up.port);
    try {
      // websockify was seen to drop what it still held for the client when the target closed
      // (8.5 of 10 MiB arrived), so the target ends once all arrived; ptybridge's tests end it mid-flight.
      await wsTcpExchange(`ws://127.0.0.1:${wsf.port}/`, protocol, up.next(), undefined, { endAfterDelivery: true });
    } finally {
      await wsf.stop();
      await up.close();
    }
  });
}

for (const protocol of ['binary', 'none'] as const) {
  test(`ws: client against websockify (?protocol=${protocol}): tcp-listen → ws → websockify → tcp, 4 MiB both ways`, async () => {
    const up = await upstreamServer();
    const wsf = await startWebsockify(up.port);
    const pb = await startPtyb(['tcp-listen:0', `ws://127.0.0.1:${wsf.port}/websockify?protocol=${protocol}`]);
    try {
      const client = await connectTcp(pb.listening[0]!.port);
      await tcpExchange(client, await up.next());
    } finally {
      await pb.stop();
      await wsf.stop();
      await up.close();
    }
  });
}

test('ws: client against ws-listen, all three framings, with a token (on the address, or from ?token-file= on both sides) and a path', async () => {
  const up = await upstreamServer();
  const dir = mkdtempSync(path.join(tmpdir(), 'ptyb-ws-token-'));
  const file = path.join(dir, 'token');
  writeFileSync(file, 'sekrit\n', { mode: 0o600 });
  const server = await startPtyb([`ws-listen:0/term?token-file=${file}`, `tcp:127.0.0.1:${up.port}`]);
  try {
    const port = server.listening[0]!.port;
    for (const protocol of ['none', 'binary', 'base64']) {
      const credential = protocol === 'binary' ? 'token=sekrit' : `token-file=${file}`;
      const pb = await startPtyb(['tcp-listen:0', `ws://127.0.0.1:${port}/term?protocol=${protocol}&${credential}`]);
      try {
        const client = await connectTcp(pb.listening[0]!.port);
        await tcpExchange(client, await up.next(), 1024 * 1024);
      } finally {
        await pb.stop();
      }
    }
    assert.doesNotMatch(server.stderr(), /sekrit/, 'the token never reaches the log');
  } finally {
    await server.stop();
    await up.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a path: upgrades only there (noVNC asks for /websockify); elsewhere 404', async () => {
  const up = await upstreamServer();
  const pb = await startPtyb([withToken('ws-listen:0/websockify?web=off'), `tcp:127.0.0.1:${up.port}`]);
  try {
    const port = pb.listening[0]!.port;
    await assert.rejects(openWs(wsUrl(port, '/other')), { status: 404 });
    const ws = await openWs(wsUrl(port, '/websockify'), { protocols: ['binary'] });
    const tcp = await up.next();
    ws.send(Buffer.from('hello'));
    const [got] = await Promise.all([new Promise<Buffer>((r) => tcp.once('data', r))]);
    assert.equal(got.toString(), 'hello');
    ws.close();
    const res = await fetch(wsUrl(port, '/websockify', 'http'));
    assert.equal(res.status, 404, 'web=off: no page');
  } finally {
    await pb.stop();
    await up.close();
  }
});

test('binary subprotocol: a text frame is bytes, as websockify treats it, never a control', async () => {
  // Two ws-listen sides in rendezvous: what one peer sends arrives at the other.
  const pb = await startPtyb([withToken('ws-listen:0'), withToken('ws-listen:0')], { listeners: 2 });
  try {
    const [l, r] = pb.listening;
    const a = await openWs(wsUrl(l!.port), { protocols: ['binary'] });
    const b = await openWs(wsUrl(r!.port));
    const got = new Promise<Buffer>((res) => b.once('message', (d: Buffer) => res(d)));
    // With the binary subprotocol a text frame is bytes, as websockify treats it.
    a.send('{"type":"resize","cols":1,"rows":1}');
    assert.equal((await got).toString(), '{"type":"resize","cols":1,"rows":1}');
    a.close();
    b.close();
  } finally {
    await pb.stop();
  }
});

test('backpressure: a browser that stops reading stalls the upstream instead of growing memory; nothing is lost', async () => {
  const up = await upstreamServer();
  const pb = await startPtyb([withToken('ws-listen:0'), `tcp:127.0.0.1:${up.port}`]);
  try {
    const ws = await openWs(wsUrl(pb.listening[0]!.port));
    const received: Buffer[] = [];
    ws.on('message', (d: Buffer) => received.push(d));
    ws.pause(); // a slow viewer: reads nothing
    const tcp = await up.next();
    const total = 256 * 1024 * 1024;
    const block = Buffer.alloc(1024 * 1024);
    let accepted = 0;
    const hash = createHash('sha256');
    // Write until the writes stop draining for a while: the whole path is full.
    for (;;) {
      block.writeUInt32BE(accepted / block.length);
      hash.update(block);
      accepted += block.length;
      if (!tcp.write(Buffer.from(block))) {
        // "Full" has no event of its own: it is no drain for 1.5 s (the loop is bounded by `total`).
        const drained = await Promise.race([once(tcp, 'drain').then(() => true), new Promise((r) => setTimeout(r, 1500, false))]);
        if (!drained) break;
      }
      assert.ok(accepted < total, 'the upstream was never held back');
    }
    const rss = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pb.proc.pid}/status`, 'utf8'))![1]) * 1024;
    assert.ok(accepted < 96 * 1024 * 1024, `held back after ${accepted} bytes`);
    assert.ok(rss < 200 * 1024 * 1024, `ptybridge RSS ${rss}`);
    // The viewer catches up and gets every byte, in order.
    const closed = once(ws, 'close');
    ws.resume();
    tcp.end();
    await closed;
    const got = Buffer.concat(received);
    assert.equal(got.length, accepted);
    assert.equal(sha256(got), hash.digest('hex'));
  } finally {
    await pb.stop();
    await up.close();
  }
});

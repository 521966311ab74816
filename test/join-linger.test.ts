// A join's linger (socat -t) must not cut a reader that is merely slow (issue 24 item A):
// once one side ended, a reader paused longer than the linger still gets every byte, and
// only a reader that takes nothing for FLUSH_STALL_MS is cut.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { readAll, sha256, startPtyb, tcpServer } from './helpers/ptyb.js';
import { within } from './helpers/until.js';
import { decodeWire } from './helpers/telnet-wire.js';
import { authHeader, withToken } from './helpers/ws.js';
import WebSocket from 'ws';

const REPLY = randomBytes(24 * 1024 * 1024);
const tmp = mkdtempSync(join(tmpdir(), 'ptyb-linger-'));
const replyFile = join(tmp, 'reply.bin');
writeFileSync(replyFile, REPLY);
test.after(() => rmSync(tmp, { recursive: true, force: true }));

/** Connects (a port on 127.0.0.1 or a unix socket's path), half-closes its write side at once, reads nothing for `pauseMs`, then everything. */
async function slowClient(to: number | string, pauseMs: number): Promise<Buffer> {
  const client = typeof to === 'number' ? net.connect({ port: to, host: '127.0.0.1', allowHalfOpen: true }) : net.connect({ path: to, allowHalfOpen: true });
  await once(client, 'connect');
  client.pause();
  client.end();
  await sleep(pauseMs);
  const all = readAll(client);
  client.resume(); // paused by hand: a 'data' listener alone does not resume it
  return all;
}

/** A peer that sends REPLY and ends, whatever its client does. */
const replyServer = () =>
  tcpServer((s) => {
    s.on('error', () => {});
    s.resume();
    s.end(REPLY);
  });

test('tcp-listen ↔ tcp: a client that half-closes and reads only after 2 s gets all 24 MiB', { timeout: 120_000 }, async () => {
  const peer = await replyServer();
  const pb = await startPtyb(['-v', 'tcp-listen:0', `tcp:127.0.0.1:${peer.port}`]);
  try {
    const got = await within(slowClient(pb.listening[0]!.port, 2000), { timeout: 90_000, what: 'the reply' });
    assert.equal(got.length, REPLY.length, 'bytes received');
    assert.equal(sha256(got), sha256(REPLY));
  } finally {
    await pb.stop();
    await peer.close();
  }
});

test('tcp-listen ↔ exec:?pipes: a client that half-closes and reads only after 2 s gets all 24 MiB', { timeout: 120_000 }, async () => {
  const pb = await startPtyb(['-v', 'tcp-listen:0', `exec:cat ${replyFile}?pipes`]);
  try {
    const got = await within(slowClient(pb.listening[0]!.port, 2000), { timeout: 90_000, what: 'the reply' });
    assert.equal(got.length, REPLY.length, 'bytes received');
    assert.equal(sha256(got), sha256(REPLY));
  } finally {
    await pb.stop();
  }
});

test('unix-listen ↔ exec:?pipes: a client that half-closes and reads only after 2 s gets all 24 MiB', { timeout: 120_000 }, async () => {
  const sock = join(tmp, 'door.sock');
  const pb = await startPtyb(['-v', `unix-listen:${sock}`, `exec:cat ${replyFile}?pipes`]);
  try {
    const got = await within(slowClient(sock, 2000), { timeout: 90_000, what: 'the reply' });
    assert.equal(got.length, REPLY.length, 'bytes received');
    assert.equal(sha256(got), sha256(REPLY));
  } finally {
    await pb.stop();
  }
});

test('ws-listen ↔ exec:?pipes: a ws client that reads nothing for 2 s, then everything, gets all 24 MiB before the close', { timeout: 120_000 }, async () => {
  const pb = await startPtyb(['-v', `exec:cat ${replyFile}?pipes`, withToken('ws-listen:0')]);
  try {
    const ws = new WebSocket(`ws://127.0.0.1:${pb.listening[0]!.port}/`, ['binary'], { headers: authHeader, perMessageDeflate: false });
    const parts: Buffer[] = [];
    ws.on('message', (d: Buffer) => parts.push(d));
    await once(ws, 'open');
    // The command ends at once; its 24 MiB wait in ptybridge while this socket reads nothing.
    const socket = (ws as unknown as { _socket: net.Socket })._socket;
    socket.pause();
    await sleep(2000);
    socket.resume();
    const [code] = (await within(once(ws, 'close'), { timeout: 90_000, what: 'the close after the reply' })) as [number];
    const got = Buffer.concat(parts);
    assert.equal(got.length, REPLY.length, `bytes received (closed with ${code})`);
    assert.equal(sha256(got), sha256(REPLY));
  } finally {
    await pb.stop();
  }
});

test('tcp-listen?telnet ↔ exec:?pipes: a telnet client that half-closes and reads only after 2 s gets all 24 MiB of text', { timeout: 120_000 }, async () => {
  // Printable text: a telnet server may rewrite CR and LF for a client that did not agree to binary mode.
  const text = Buffer.from(REPLY.toString('base64').slice(0, REPLY.length));
  const textFile = join(tmp, 'reply.txt');
  writeFileSync(textFile, text);
  const pb = await startPtyb(['-v', 'tcp-listen:0?telnet', `exec:cat ${textFile}?pipes`]);
  try {
    const wire = await within(slowClient(pb.listening[0]!.port, 2000), { timeout: 90_000, what: 'the reply' });
    const got = decodeWire(wire, false);
    assert.equal(got.length, text.length, 'bytes received, negotiation aside');
    assert.equal(sha256(got), sha256(text));
  } finally {
    await pb.stop();
  }
});

test('a client that half-closes and never reads is still cut after the stall bound; the next one is served', { timeout: 120_000 }, async () => {
  let upstreamClosed!: () => void;
  const closed = new Promise<void>((r) => (upstreamClosed = r));
  const peer = await tcpServer((s) => {
    s.on('error', () => {});
    s.once('close', () => upstreamClosed());
    s.resume();
    s.end(REPLY);
  });
  const pb = await startPtyb(['-v', 'tcp-listen:0', `tcp:127.0.0.1:${peer.port}`]);
  const stuck = net.connect({ port: pb.listening[0]!.port, host: '127.0.0.1', allowHalfOpen: true });
  stuck.on('error', () => {});
  try {
    await once(stuck, 'connect');
    stuck.pause();
    stuck.end();
    // ptybridge closes its upstream side of the join once the reader has stalled.
    await within(closed, { timeout: 90_000, what: 'the upstream connection of a reader that never reads to be closed' });
    await pb.logged(/stalled/, 'the stall logged');
    // The listener still serves.
    const got = await within(slowClient(pb.listening[0]!.port, 0), { timeout: 90_000, what: 'the next reply' });
    assert.equal(sha256(got), sha256(REPLY));
  } finally {
    stuck.destroy();
    await pb.stop();
    await peer.close();
  }
});

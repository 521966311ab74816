// Per-peer exec: churn: a session whose peer left never touches its pty's fd again (its number then belongs to the next peer).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type net from 'node:net';
import { withConcurrency } from './helpers/load.js';
import { connectTcp, startPtyb } from './helpers/ptyb.js';
import { TOKEN, withToken } from './helpers/ws.js';

/** Sessions per door: each one that leaves early ends its command about a second later, while newer peers are being accepted. */
const SESSIONS = 1000;
/** The tcp door reads its peer at once (a smaller window to steal from): fewer sessions, as a guard. */
const TCP_SESSIONS = 500;
const AT_ONCE = 10;
/** A peer that got no answer is given up on after this (the server answers a stuck request with 408 after 10 s). */
const GIVE_UP_MS = 12_000;

/** Reads from `s` until `done(received)` says so, the socket closes, or GIVE_UP_MS pass; resolves with what came. */
function readWhile(s: net.Socket, done: (got: Buffer) => boolean): Promise<Buffer> {
  return new Promise((resolve) => {
    let got = Buffer.alloc(0);
    const finish = () => {
      clearTimeout(timer);
      s.off('data', onData);
      resolve(got);
    };
    const onData = (c: Buffer) => {
      got = Buffer.concat([got, c]);
      if (done(got)) finish();
    };
    const timer = setTimeout(finish, GIVE_UP_MS);
    s.on('data', onData);
    s.once('close', finish);
    s.on('error', () => {});
  });
}

test('exec:cat behind ws-listen: 1000 handshakes 10 at a time, half leaving at once, every one is answered 101', async () => {
  const pb = await startPtyb(['exec:cat', withToken('ws-listen:0')]);
  const port = pb.listening[0]!.port;
  const refused: string[] = [];
  try {
    await withConcurrency(SESSIONS, AT_ONCE, async (i) => {
      const s = await connectTcp(port);
      const key = Buffer.from(`${i}`.padStart(16, 'k')).toString('base64');
      s.write(
        `GET /?token=${TOKEN} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      );
      const head = (await readWhile(s, (got) => got.includes('\r\n\r\n'))).toString('latin1');
      const status = head.split('\r\n')[0] ?? '';
      if (!status.startsWith('HTTP/1.1 101')) refused.push(`peer ${i}: ${JSON.stringify(status || '(nothing)')}`);
      // Odd peers leave at once: their session is torn down while cat is still running.
      if (i % 2 === 1) s.destroy();
      else s.end(() => s.destroy());
    });
    assert.deepEqual(refused, [], `every handshake answered 101\n${pb.stderr().slice(-2000)}`);
  } finally {
    await pb.stop('SIGKILL');
  }
});

test('exec:cat behind tcp-listen: 500 peers 10 at a time, half leaving at once, each other one gets exactly its own echo', async () => {
  const pb = await startPtyb(['exec:cat', 'tcp-listen:0']);
  const port = pb.listening[0]!.port;
  const wrong: string[] = [];
  try {
    await withConcurrency(TCP_SESSIONS, AT_ONCE, async (i) => {
      const s = await connectTcp(port);
      if (i % 2 === 1) return void s.destroy();
      const line = `peer-${i}-${'x'.repeat(i % 50)}`;
      s.write(`${line}\n`);
      // The terminal's echo of the line, then cat's copy of it.
      const want = `${line}\r\n${line}\r\n`;
      const got = (await readWhile(s, (g) => g.length >= want.length)).toString('latin1');
      if (got !== want) wrong.push(`peer ${i}: ${JSON.stringify(got)}`);
      s.destroy();
    });
    assert.deepEqual(wrong, [], `every peer got its own echo\n${pb.stderr().slice(-2000)}`);
  } finally {
    await pb.stop('SIGKILL');
  }
});

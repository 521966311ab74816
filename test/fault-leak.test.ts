// A peer that connects and closes at once must leave no command, pty or descriptor behind (issue 11 §3).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openWs } from './helpers/ws.js';
import { startPtyb, type Running } from './helpers/ptyb.js';
import { childPids, fdCount, fdTargets, withConcurrency } from './helpers/load.js';
import { until } from './helpers/until.js';

const PEERS = Number(process.env.PTYB_LEAK_PEERS ?? 200);
/** Peers that arrive together, as a burst of clients would. */
const AT_ONCE = 20;

const tmp = mkdtempSync(join(tmpdir(), 'ptyb-leak-'));
test.after(() => rmSync(tmp, { recursive: true, force: true }));

/** A stream-socket peer that connects and closes at once: half with a FIN, half with a reset. */
const socketPeer = (connect: (pb: Running) => net.Socket) => async (pb: Running, i: number) => {
  const s = connect(pb);
  s.on('error', () => {});
  await once(s, 'connect');
  if (i % 2) s.end();
  else s.destroy();
  await once(s, 'close');
};

/** One peer of each door that connects and closes at once, half of them politely, half abruptly. */
const doors = {
  tcp: socketPeer((pb) => net.connect({ host: '127.0.0.1', port: pb.listening[0]!.port })),
  unix: socketPeer((pb) => net.connect(pb.listening[0]!.path)),
  ws: async (pb: Running, i: number) => {
    const ws = await openWs(`ws://127.0.0.1:${pb.listening[0]!.port}/`, { headers: { Authorization: 'Bearer leak-test' } });
    ws.on('error', () => {});
    const closed = once(ws, 'close');
    if (i % 2) ws.close();
    else ws.terminate();
    await closed;
  },
};

const cases: { name: string; command: string; door: keyof typeof doors; listen: () => string }[] = [
  { name: 'tcp-listen, exec: on a pty', command: 'exec:sleep 1000', door: 'tcp', listen: () => 'tcp-listen:0' },
  { name: 'unix-listen, exec:?pipes', command: 'exec:sleep 1000?pipes', door: 'unix', listen: () => `unix-listen:${join(tmp, 'leak.sock')}` },
  { name: 'ws-listen, exec:bash', command: 'exec:bash --norc', door: 'ws', listen: () => 'ws-listen:0?token=leak-test' },
];

for (const c of cases) {
  test(`${PEERS} peers that connect and close at once (${c.name}): no command left running, descriptors back where they were`, {
    timeout: 120_000,
  }, async () => {
    const pb = await startPtyb([c.command, c.listen()]);
    try {
      const pid = pb.proc.pid!;
      // One peer first, so that what is opened once (the native pty module, the epoll fd) is in the baseline.
      await doors[c.door](pb, 1);
      await until(() => childPids(pid).length === 0, { timeout: 20_000, what: "the first peer's command to be gone" });
      const fdBefore = fdCount(pid);
      await withConcurrency(PEERS, AT_ONCE, (i) => doors[c.door](pb, i));
      await until(() => childPids(pid).length === 0, {
        timeout: 30_000,
        what: `the commands of ${PEERS} peers that left to end`,
        detail: () => `${childPids(pid).length} still run`,
      });
      await until(() => fdCount(pid) <= fdBefore, {
        timeout: 20_000,
        what: `the fds to come back to ${fdBefore}`,
        detail: () => `fds ${fdCount(pid)}: ${fdTargets(pid).join(' ')}`,
      });
      assert.equal(pb.proc.exitCode, null, 'ptybridge still runs');
      assert.doesNotMatch(pb.stderr(), /\n\s+at /, 'no stack trace');
    } finally {
      await pb.stop();
    }
  });
}

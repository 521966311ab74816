// Churn: thousands of peers connect and vanish (gracefully, at once, by reset); no descriptor or memory leak, still serving.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import { connectTcp, readAll, sha256, startPtyb, tcpServer, transferBothWays, type Running } from './helpers/ptyb.js';
import { MiB, fdCount, fdTargets, rssBytes, withConcurrency } from './helpers/load.js';
import { until } from './helpers/until.js';

const CYCLES = Number(process.env.PTYB_CHURN_CYCLES ?? 10_000);
const CONCURRENCY = 50;

/** One peer's life, in one of three shapes, so every teardown path of the router is taken. */
async function cycle(port: number, i: number): Promise<void> {
  const s = net.connect({ host: '127.0.0.1', port, allowHalfOpen: true });
  s.on('error', () => {});
  await once(s, 'connect');
  switch (i % 3) {
    case 0: {
      // Polite: a request, its echo, a half-close, then the far side's close.
      const msg = `peer ${i}\n`;
      const got = readAll(s);
      s.end(msg);
      assert.equal((await got).toString(), msg, `cycle ${i} echo`);
      break;
    }
    case 1:
      // Gone at once, likely before ptybridge's upstream connection is even open.
      s.destroy();
      break;
    default:
      // Reset (RST) after sending, with data possibly still in flight.
      s.write(Buffer.alloc(4096, i & 0xff));
      await new Promise((r) => setImmediate(r));
      s.resetAndDestroy();
  }
  if (!s.closed) await once(s, 'close');
}

/** Counts ptybridge's stderr lines that match as they come; `atLeast(n)` resolves once n have. */
function countLines(pb: Running, re: RegExp): { readonly count: number; atLeast(n: number): Promise<void> } {
  let count = 0;
  let partial = '';
  const waiting = new Set<{ n: number; wake: () => void }>();
  pb.proc.stderr!.on('data', (text: string) => {
    const lines = (partial + text).split('\n');
    partial = lines.pop()!;
    for (const line of lines) if (re.test(line)) count++;
    for (const w of waiting) if (count >= w.n) waiting.delete(w), w.wake();
  });
  return {
    get count() {
      return count;
    },
    atLeast: (n) => (count >= n ? Promise.resolve() : new Promise<void>((wake) => waiting.add({ n, wake }))),
  };
}

/** Descriptor and memory accounting around a burst of churn against a running ptybridge. */
async function churn(pb: Running, port: number, label: string): Promise<void> {
  const pid = pb.proc.pid!;
  // Warm up: lazily created handles (DNS, timers) and JIT are not leaks.
  await withConcurrency(300, CONCURRENCY, (i) => cycle(port, i));
  await until(() => fdCount(pid) <= 30, {
    timeout: 20_000,
    what: "the warm-up's connections to close (at most 30 fds)",
    detail: () => fdTargets(pid).join(' '),
  });
  const fdBefore = fdCount(pid);
  const rssBefore = rssBytes(pid);
  await withConcurrency(CYCLES, CONCURRENCY, (i) => cycle(port, i));
  // Closing finishes asynchronously on ptybridge's side; give it time, then count.
  await until(() => fdCount(pid) <= fdBefore + 2, {
    timeout: 20_000,
    what: `${label}: the fds to settle at ${fdBefore} + 2 after ${CYCLES} cycles`,
    detail: () => `fds ${fdCount(pid)}: ${fdTargets(pid).join(' ')}`,
  });
  const fdAfter = fdCount(pid);
  const rssAfter = rssBytes(pid);
  // Generous: V8 grows its heap and keeps it; a leak of a few KiB per cycle would pass 64 MiB over 10 000 cycles.
  assert.ok(rssAfter < rssBefore + 64 * MiB, `${label}: RSS ${(rssBefore / MiB).toFixed(1)} → ${(rssAfter / MiB).toFixed(1)} MiB`);
  assert.doesNotMatch(pb.stderr(), /internal error|EMFILE/, `${label}: stderr`);
  process.stderr.write(
    `# ${label}: ${CYCLES} cycles, fds ${fdBefore} → ${fdAfter}, RSS ${(rssBefore / MiB).toFixed(1)} → ${(rssAfter / MiB).toFixed(1)} MiB\n`,
  );
}

test(`churn: ${CYCLES} connect/disconnect cycles on tcp-listen with a per-peer tcp upstream`, async () => {
  const upstream = await tcpServer((s) => {
    s.on('error', () => {});
    s.pipe(s);
  });
  const pb = await startPtyb(['tcp-listen:0', `tcp:127.0.0.1:${upstream.port}`]);
  try {
    const port = pb.listening[0]!.port;
    await churn(pb, port, 'tcp-listen ↔ tcp');
    // Still serving, byte-exact.
    const c = await connectTcp(port);
    const payload = randomBytes(MiB);
    const echoed = readAll(c);
    c.end(payload);
    assert.equal(sha256(await echoed), sha256(payload));
  } finally {
    await pb.stop();
    await upstream.close();
  }
});

test(`churn: ${CYCLES} cycles on a rendezvous of two tcp-listen (half of the peers never meet a partner)`, async () => {
  // -v: ptybridge logs each waiting peer it lets go, which is how the test knows the churn is over on its side.
  const pb = await startPtyb(['-v', 'tcp-listen:0', 'tcp-listen:0'], { listeners: 2 });
  try {
    const [l, r] = pb.listening;
    const pid = pb.proc.pid!;
    await until(() => fdCount(pid) <= 30, { timeout: 20_000, what: 'a fresh process to hold at most 30 fds', detail: () => fdTargets(pid).join(' ') });
    const fdBefore = fdCount(pid);
    const accepted = countLines(pb, / connected$/);
    const gone = countLines(pb, / left before a partner came$/);
    // Left peers connect and vanish; nobody on the right ever pairs with them. Each waits until
    // fewer than CONCURRENCY peers are still unaccepted: a client's 'connect' comes before
    // ptybridge accepts, so an unpaced client can fill the listen queue (511) while ptybridge is
    // busy. The kernel then drops a handshake's last ACK, and a peer that resets then is gone
    // without ptybridge ever seeing it (TcpExt EmbryonicRsts): it could never be counted below.
    await withConcurrency(CYCLES / 2, CONCURRENCY, async (i) => {
      await accepted.atLeast(i - CONCURRENCY + 1);
      const s = net.connect({ host: '127.0.0.1', port: l!.port });
      s.on('error', () => {});
      await once(s, 'connect');
      if (i % 2) s.destroy();
      else s.resetAndDestroy();
      if (!s.closed) await once(s, 'close');
    });
    // Every churn peer must be seen to leave. A client's own 'close' says nothing about
    // ptybridge: its last peers may still sit in the accept queue (not yet an fd), or be
    // accepted with their FIN or RST not yet read. Counting fds alone (with slack) let the
    // new pair below start while ghosts were still queued ahead of `a`; `b` was then paired
    // with a ghost and closed when it was found gone (ECONNRESET in `b`, or `a` waiting forever).
    await until(() => gone.count === CYCLES / 2, {
      timeout: 60_000,
      what: `all ${CYCLES / 2} churn peers to be seen leaving`,
      detail: () => `${gone.count} seen leaving, ${accepted.count} accepted`,
    });
    await until(() => fdCount(pid) <= fdBefore + 2, {
      timeout: 20_000,
      what: `the fds to settle at ${fdBefore} + 2`,
      detail: () => `fds ${fdCount(pid)}: ${fdTargets(pid).join(' ')}`,
    });
    // A new pair still meets, and meets each other, not a ghost of the churn.
    const a = await connectTcp(l!.port);
    const b = await connectTcp(r!.port);
    await transferBothWays(a, b, MiB);
  } finally {
    await pb.stop();
  }
});

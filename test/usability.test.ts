// What a new user trips over (issue 13): refusals that say so, flags that do nothing refused, failures at start, messages said once.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { readAll, runPtyb, startPtyb, tcpServer } from './helpers/ptyb.js';
import { until } from './helpers/devices.js';

const dir = mkdtempSync(join(tmpdir(), 'ptyb-usability-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('--log FILE that cannot be opened is a failure at start: exit 1, naming it and the OS error', async (t) => {
  const cases: [string, string][] = [
    [join(dir, 'no-such-dir', 'x.log'), 'ENOENT (no such file or directory)'],
    [dir, 'EISDIR (is a directory)'],
  ];
  for (const [file, why] of cases) {
    await t.test(why, { timeout: 10_000 }, async () => {
      const r = await runPtyb(['--log', file, 'tcp-listen:0', 'tcp:127.0.0.1:9']);
      assert.equal(r.code, 1, r.stderr);
      assert.equal(r.stderr, `ptybridge: --log ${file}: ${why}\n`);
    });
  }
});

test('flags that would do nothing are refused (exit 2), never ignored', { timeout: 60_000 }, async (t) => {
  const cases: [string[], string][] = [
    [['--log-max-size', '16M', '-', 'tcp:127.0.0.1:9'], '--log-max-size has no effect without --log FILE'],
    [['--log-keep', '3', '-', 'tcp:127.0.0.1:9'], '--log-keep has no effect without --log FILE'],
    [['--escape', '^]', 'tcp-listen:0', 'tcp:127.0.0.1:9'], '--escape has no effect without a stdio address (- or stdio:)'],
    [['pty:?policy=readonly', 'tcp:127.0.0.1:9'], 'pty:?policy=readonly: option "policy" has no effect here: it applies to a shared device behind a listener'],
    [
      ['exec:cat?replay=0', 'tcp-listen:0'],
      'exec:cat?replay=0: option "replay" has no effect here: it applies to a shared device behind a listener (add ?share)',
    ],
    [['-', 'tcp:127.0.0.1:9?interval=1s'], 'tcp:127.0.0.1:9?interval=1s: option "interval" has no effect without ?retry=N (it is the wait between tries)'],
    [['-', 'ws://127.0.0.1:9/?insecure'], 'ws://127.0.0.1:9/?insecure: option "insecure" has no effect on ws:// (it is for wss://)'],
    [
      ['pty:/dev/null?link=/tmp/x', 'tcp-listen:0'],
      'pty:/dev/null?link=/tmp/x: option "link" has no effect with a path: it applies to a new pair (pty: with no path)',
    ],
  ];
  for (const [args, message] of cases) {
    await t.test(args.join(' '), { timeout: 10_000 }, async () => {
      const r = await runPtyb(args);
      assert.equal(r.code, 2, r.stderr);
      assert.equal(r.stderr, `ptybridge: ${message}\n`);
    });
  }
});

test('--help shows no size in parentheses as if it were a default for --log-max-size', async () => {
  const r = await runPtyb(['--help']);
  assert.equal(r.code, 0);
  const help = r.stdout.toString();
  const entry = help.slice(help.indexOf('--log-max-size'), help.indexOf('--log-keep'));
  assert.doesNotMatch(entry, /\(16M\)/);
  assert.match(entry, /never rotated/);
  assert.match(help, /percent-decoded once: %3F is \?/);
});

test('a failed retry names its URI once per line', async () => {
  const closed = await tcpServer(() => {});
  const port = closed.port;
  await closed.close();
  const uri = `tcp:127.0.0.1:${port}?retry=2&interval=10ms`;
  const res = await runPtyb(['-v', '-', uri], { input: '' });
  assert.equal(res.code, 1, res.stderr);
  const lines = res.stderr
    .trim()
    .split('\n')
    .filter((l) => l.includes('ECONNREFUSED'));
  assert.equal(lines.length, 3, res.stderr);
  for (const l of lines) assert.equal(l.split(uri).length - 1, 1, `the URI once: ${l}`);
  assert.equal(lines[0], `ptybridge: ${uri}: ECONNREFUSED (connection refused); retrying in 10 ms (2 left)`);
  assert.equal(lines[2], `ptybridge: ${uri}: ECONNREFUSED (connection refused)`);
});

/** Holds one peer, connects a second, and returns the log once the second was refused. */
async function refusedOnce(args: string[], connectTo: (listening: { port: number; path: string }) => net.Socket): Promise<string> {
  const pb = await startPtyb(['-v', ...args]);
  const connect = () => connectTo(pb.listening[0]!);
  const held: net.Socket[] = [];
  try {
    const first = connect();
    held.push(first);
    await once(first, 'connect');
    await until(() => /connected/.test(pb.stderr()));
    const second = connect();
    held.push(second);
    second.on('error', () => {});
    await readAll(second).catch(() => Buffer.alloc(0)); // closed by the listener
    await until(() => /too many peers/.test(pb.stderr()));
    return pb.stderr();
  } finally {
    held.forEach((s) => s.destroy());
    await pb.stop();
  }
}

test('tcp-listen ?max and unix-listen ?max: a refused peer is logged, once', { timeout: 30_000 }, async () => {
  const upstream = await tcpServer(() => {});
  try {
    const log = await refusedOnce(['tcp-listen:0?max=1', `tcp:127.0.0.1:${upstream.port}`], (l) => net.connect(l.port, '127.0.0.1'));
    const refusals = log.split('\n').filter((l) => /too many peers/.test(l));
    assert.equal(refusals.length, 1, log);
    assert.match(refusals[0]!, /^ptybridge: tcp-listen:0\?max=1: refused tcp 127\.0\.0\.1:\d+: too many peers \(\?max=1\)$/);

    const sock = join(dir, 'max.sock');
    const ulog = await refusedOnce([`unix-listen:${sock}?max=1`, `tcp:127.0.0.1:${upstream.port}`], (l) => net.connect(l.path));
    const urefusals = ulog.split('\n').filter((l) => /too many peers/.test(l));
    assert.deepEqual(urefusals, [`ptybridge: unix-listen:${sock}?max=1: refused a peer: too many peers (?max=1)`], ulog);
  } finally {
    await upstream.close();
  }
});

test('?token=ab+cd/ef keeps its plus: the Bearer header and the page URL carry it as typed', { timeout: 30_000 }, async () => {
  const { openWs, rawGet } = await import('./helpers/ws.js');
  const up = await tcpServer((s) => s.pipe(s));
  const pb = await startPtyb(['ws-listen:0?token=ab+cd/ef', `tcp:127.0.0.1:${up.port}`]);
  try {
    const port = pb.listening[0]!.port;
    const ws = await openWs(`ws://127.0.0.1:${port}/`, { headers: { Authorization: 'Bearer ab+cd/ef' } });
    ws.close();
    await assert.rejects(openWs(`ws://127.0.0.1:${port}/`, { headers: { Authorization: 'Bearer ab cd/ef' } }), { status: 401 });
    // In a URL a + is a plus too (as in the address); %2B is the same.
    assert.equal((await rawGet(port, '/?token=ab+cd/ef')).status, 200);
    assert.equal((await rawGet(port, '/?token=ab%2Bcd%2Fef')).status, 200);
    assert.equal((await rawGet(port, '/?token=ab%20cd/ef')).status, 401);
  } finally {
    await pb.stop();
    await up.close();
  }
});

// stdio: and "-" — ptybridge's own stdin and stdout joined to a real TCP peer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { PTYBRIDGE, readAll, runPtyb, sha256, spawnTracked, tcpServer, writeAll } from './helpers/ptyb.js';

test('printf data | ptybridge - tcp: delivers the exact bytes and prints the reply', async () => {
  let request!: Promise<Buffer>;
  const server = await tcpServer((s) => {
    request = readAll(s).then((got) => {
      s.end(`reply to ${got.length} bytes`);
      return got;
    });
  });
  try {
    const input = Buffer.from([0x64, 0x61, 0x74, 0x61, 0x00, 0xff, 0x0d, 0x0a]); // "data\0\xff\r\n"
    const res = await runPtyb(['-', `tcp:127.0.0.1:${server.port}`], { input });
    assert.equal(res.code, 0, res.stderr);
    assert.deepEqual(await request, input);
    assert.equal(res.stdout.toString(), 'reply to 8 bytes');
    assert.equal(res.stderr, '');
  } finally {
    await server.close();
  }
});

test('stdio: ↔ tcp: 10 MiB both ways at once, byte-exact', async () => {
  const up = randomBytes(10 * 1024 * 1024);
  const down = randomBytes(10 * 1024 * 1024);
  let atServer!: Promise<Buffer>;
  const server = await tcpServer((s) => {
    atServer = readAll(s);
    void writeAll(s, down);
  });
  try {
    const res = await runPtyb(['stdio:', `tcp:127.0.0.1:${server.port}`], { input: up });
    assert.equal(res.code, 0, res.stderr);
    assert.equal(sha256(await atServer), sha256(up), 'stdin → tcp');
    assert.equal(res.stdout.length, down.length);
    assert.equal(sha256(res.stdout), sha256(down), 'tcp → stdout');
  } finally {
    await server.close();
  }
});

test('half-close both ways: the peer ending closes stdout; stdin ending then finishes the route', async () => {
  let request!: Promise<Buffer>;
  const server = await tcpServer((s) => {
    s.end('bye');
    request = readAll(s);
  });
  const pb = spawnTracked(process.execPath, [PTYBRIDGE, '-', `tcp:127.0.0.1:${server.port}`]);
  try {
    const out = readAll(pb.stdout!);
    assert.equal((await out).toString(), 'bye', 'stdout ends while stdin is still open');
    pb.stdin!.end('still heard');
    const [code] = await once(pb, 'exit');
    assert.equal(code, 0);
    assert.equal((await request).toString(), 'still heard');
  } finally {
    pb.kill();
    await server.close();
  }
});

test('stdio bad input: "- -", a target, an option: one line, exit 2', async (t) => {
  const cases: [string[], string][] = [
    [['-', '-'], 'ptybridge: - and - both use stdio; one process has only one'],
    [['stdio:', '-'], 'ptybridge: stdio: and - both use stdio; one process has only one'],
    [['stdio:tty', 'tcp:127.0.0.1:1'], 'ptybridge: stdio:tty: stdio takes no target: write "-" or "stdio:"'],
    [['stdio:?bogus', 'tcp:127.0.0.1:1'], 'ptybridge: stdio:?bogus: unknown option "bogus"; stdio: takes escape, raw'],
    [['stdio:?raw=on', 'tcp:127.0.0.1:1'], 'ptybridge: stdio:?raw=on: option "raw" expects auto|off, got "on"'],
  ];
  for (const [args, message] of cases) {
    await t.test(args.join(' '), async () => {
      const res = await runPtyb(args);
      assert.equal(res.code, 2, res.stderr);
      assert.equal(res.stderr, `${message}\n`);
    });
  }
});

test('stdio: a refused connection is one line naming the endpoint, exit 1, and no output', async () => {
  const res = await runPtyb(['-', 'tcp:127.0.0.1:1'], { input: 'x' });
  assert.equal(res.code, 1);
  assert.equal(res.stdout.length, 0);
  assert.equal(res.stderr, 'ptybridge: tcp:127.0.0.1:1: ECONNREFUSED (connection refused)\n');
});

// unix: and unix-listen: against real unix sockets and socat.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { runPtyb, runTool, sha256, spawnTracked, startPtyb, tcpServer, transferBothWays } from './helpers/ptyb.js';
import { until } from './helpers/until.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ptyb-unix-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));
let n = 0;
const sockPath = () => path.join(dir, `s${++n}.sock`);

/** A unix stream server for the test side; `handler` gets each socket. */
async function unixServer(p: string, handler: (s: net.Socket) => void): Promise<{ close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer({ allowHalfOpen: true }, (s) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
    handler(s);
  });
  server.listen(p);
  await once(server, 'listening');
  return {
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        for (const s of sockets) s.destroy();
      }),
  };
}

async function connectUnix(p: string): Promise<net.Socket> {
  const s = net.connect({ path: p, allowHalfOpen: true });
  await once(s, 'connect');
  return s;
}

/** Waits until something accepts on the socket path (a peer tool starting up). */
async function waitForSocket(p: string): Promise<void> {
  const accepts = () =>
    connectUnix(p).then(
      (s) => (s.destroy(), true),
      () => false,
    );
  await until(accepts, { timeout: 10_000, what: `something to listen on ${p}` });
}

test('unix-listen ↔ unix: 10 MiB both ways at once, byte-exact', async () => {
  const upPath = sockPath();
  let serverSide!: (s: net.Socket) => void;
  const upstreamSocket = new Promise<net.Socket>((r) => (serverSide = r));
  const upstream = await unixServer(upPath, (s) => serverSide(s));
  const listenPath = sockPath();
  const pb = await startPtyb([`unix-listen:${listenPath}`, `unix:${upPath}`]);
  try {
    assert.equal(pb.listening[0]!.path, listenPath);
    const client = await connectUnix(listenPath);
    await transferBothWays(client, await upstreamSocket);
  } finally {
    await pb.stop();
    await upstream.close();
  }
});

test('socat client: socat - UNIX-CONNECT through unix-listen to a tcp echo, 10 MiB', async () => {
  const echo = await tcpServer((s) => s.pipe(s));
  const p = sockPath();
  const pb = await startPtyb([`unix-l:${p}`, `tcp:127.0.0.1:${echo.port}`]);
  try {
    const payload = randomBytes(10 * 1024 * 1024);
    const res = await runTool('socat', ['-t', '30', '-', `UNIX-CONNECT:${p}`], { input: payload });
    assert.equal(res.code, 0, res.stderr);
    assert.equal(res.stdout.length, payload.length);
    assert.equal(sha256(res.stdout), sha256(payload));
  } finally {
    await pb.stop();
    await echo.close();
  }
});

test('socat server: tcp-listen → unix-connect: to socat UNIX-LISTEN echo, 10 MiB', async () => {
  const p = sockPath();
  const socat = spawnTracked('socat', [`UNIX-LISTEN:${p},fork`, 'EXEC:cat']);
  await waitForSocket(p);
  const pb = await startPtyb(['tcp-listen:0', `unix-connect:${p}`]);
  try {
    const payload = randomBytes(10 * 1024 * 1024);
    const res = await runTool('socat', ['-t', '30', '-', `TCP:127.0.0.1:${pb.listening[0]!.port}`], { input: payload });
    assert.equal(res.code, 0, res.stderr);
    assert.equal(sha256(res.stdout), sha256(payload));
  } finally {
    await pb.stop();
    socat.kill();
  }
});

test('rendezvous of unix-listen and tcp-listen, socat on both sides: a unix peer gone before a partner is let go, then 4 MiB each way', async () => {
  const p = sockPath();
  // -v: the log says when a peer arrives and when a waiting one is let go.
  const pb = await startPtyb(['-v', `unix-listen:${p}`, 'tcp-listen:0'], { listeners: 2 });
  try {
    const ghost = await runTool('socat', ['-u', '/dev/null', `UNIX-CONNECT:${p}`]);
    assert.equal(ghost.code, 0, ghost.stderr);
    await pb.logged(/left before a partner came/);
    const [a, b] = [randomBytes(4 * 1024 * 1024), randomBytes(4 * 1024 * 1024)];
    // The unix peer waits with more than its socket and ptybridge's hold can take, so it is
    // still sending (not yet half-closed, which would end its wait) when its partner comes.
    const unixSide = runTool('socat', ['-t', '30', '-', `UNIX-CONNECT:${p}`], { input: a });
    await pb.logged(/ connected\n[\s\S]* connected\n/, 'the second unix peer to be waiting');
    const tcpSide = await runTool('socat', ['-t', '30', '-', `TCP:127.0.0.1:${pb.listening[1]!.port}`], { input: b });
    const unixDone = await unixSide;
    assert.equal(tcpSide.code, 0, tcpSide.stderr);
    assert.equal(unixDone.code, 0, unixDone.stderr);
    assert.equal(sha256(tcpSide.stdout), sha256(a), 'unix → tcp');
    assert.equal(sha256(unixDone.stdout), sha256(b), 'tcp → unix');
  } finally {
    await pb.stop();
  }
});

test('unix-listen refuses a live socket: exit 1, one line, the socket left alone', async () => {
  const p = sockPath();
  const live = await unixServer(p, (s) => s.destroy());
  try {
    const res = await runPtyb([`unix-listen:${p}`, 'tcp:127.0.0.1:9']);
    assert.equal(res.code, 1, res.stderr);
    assert.equal(res.stderr, `ptybridge: unix-listen:${p}: EADDRINUSE: a live socket is already listening at ${p}\n`);
    (await connectUnix(p)).destroy(); // still answering
  } finally {
    await live.close();
  }
});

test('unix-listen removes a stale socket file, and its own on SIGTERM and SIGINT', async () => {
  const p = sockPath();
  // A process that binds the path and dies without cleaning up leaves a stale socket file.
  const dead = spawnTracked(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(p)}, () => process.kill(process.pid, 'SIGKILL'))`]);
  await once(dead, 'exit');
  assert.ok(fs.lstatSync(p).isSocket(), 'stale socket file left behind');
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    const pb = await startPtyb([`unix-listen:${p}`, 'tcp:127.0.0.1:9']);
    assert.ok(fs.lstatSync(p).isSocket());
    const { code } = await pb.stop(signal);
    assert.equal(code, 0, pb.stderr());
    assert.equal(fs.existsSync(p), false, `socket file removed after ${signal}`);
  }
});

test('unix-listen ?mode sets the socket permissions; a path that is not a socket is refused', async () => {
  for (const mode of [0o600, 0o660]) {
    const p = sockPath();
    const pb = await startPtyb([`unix-listen:${p}?mode=0${mode.toString(8)}`, 'tcp:127.0.0.1:9']);
    try {
      assert.equal(fs.statSync(p).mode & 0o777, mode);
    } finally {
      await pb.stop();
    }
  }
  // Permission bits only: 0 and 0000 are the same mode; 07777 (setuid, setgid, sticky) is refused below.
  for (const text of ['0', '0000']) {
    const p = sockPath();
    const pb = await startPtyb([`unix-listen:${p}?mode=${text}`, 'tcp:127.0.0.1:9']);
    try {
      assert.equal(fs.statSync(p).mode & 0o7777, 0);
    } finally {
      await pb.stop();
    }
  }
  const plain = path.join(dir, 'plain-file');
  fs.writeFileSync(plain, 'keep me');
  const res = await runPtyb([`unix-listen:${plain}`, 'tcp:127.0.0.1:9']);
  assert.equal(res.code, 1);
  assert.equal(res.stderr, `ptybridge: unix-listen:${plain}: EEXIST: ${plain} exists and is not a socket; not removing it\n`);
  assert.equal(fs.readFileSync(plain, 'utf8'), 'keep me');
});

test('unix bad input: one line naming the URI and the problem, exit 2 (usage) or 1 (runtime)', async (t) => {
  const missing = path.join(dir, 'missing.sock');
  const cases: [string[], number, string][] = [
    [['unix:', 'tcp-listen:0'], 2, 'ptybridge: unix:: missing path: expected a socket path such as /run/console.sock'],
    [['unix-listen:', 'tcp:127.0.0.1:1'], 2, 'ptybridge: unix-listen:: missing path: expected a socket path such as /run/console.sock'],
    [
      ['unix-listen:/tmp/x.sock?mode=999', 'tcp:127.0.0.1:1'],
      2,
      'ptybridge: unix-listen:/tmp/x.sock?mode=999: option "mode" expects permission bits in octal, 0-0777, such as 0660, got "999"',
    ],
    [
      ['unix-listen:/tmp/x.sock?mode=07777', 'tcp:127.0.0.1:1'],
      2,
      'ptybridge: unix-listen:/tmp/x.sock?mode=07777: option "mode" expects permission bits in octal, 0-0777, such as 0660, got "07777"',
    ],
    [['unix-listen:/tmp/x.sock?mod=0600', 'tcp:127.0.0.1:1'], 2, 'ptybridge: unix-listen:/tmp/x.sock?mod=…: unknown option "mod" (did you mean "mode"?)'],
    [
      ['unix:/tmp/x.sock?nodelay', 'tcp-listen:0'],
      2,
      'ptybridge: unix:/tmp/x.sock?nodelay: unknown option "nodelay"; unix: takes retry, interval, share, policy, replay, scrollback, peer-queue, max-peers, log-input, history, history-max, mark',
    ],
    [[`unix:${missing}`, 'tcp:127.0.0.1:1'], 1, `ptybridge: unix:${missing}: ENOENT (no such file or directory)`],
    [[`unix:${missing}?retry=1&interval=10ms`, 'tcp:127.0.0.1:1'], 1, `ptybridge: unix:${missing}?retry=1&interval=10ms: ENOENT (no such file or directory)`],
    [
      [`unix-listen:${path.join(dir, 'no-such-dir', 'x.sock')}`, 'tcp:127.0.0.1:1'],
      1,
      `ptybridge: unix-listen:${path.join(dir, 'no-such-dir', 'x.sock')}: ENOENT (no such file or directory)`,
    ],
  ];
  for (const [args, status, message] of cases) {
    await t.test(args.join(' '), async () => {
      const res = await runPtyb(args);
      assert.equal(res.code, status, res.stderr);
      assert.equal(res.stderr, `${message}\n`);
    });
  }
});

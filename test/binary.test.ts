// The single binary (dist/ptybridge), copied alone into an empty directory and run with no Node and no node_modules.
import { after, before, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  truncateSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type net from 'node:net';
import { acceptOne, connectTcp, readUntil, ROOT, runTool, sha256, startPtyb, transferBothWays, writeAll } from './helpers/ptyb.js';
import { authHeader, TOKEN, withToken } from './helpers/ws.js';

/** What `npm test`'s pretest builds (npm run build). */
const BUILT = join(ROOT, 'dist/ptybridge');
const PKG = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };

let top = '';
let runDir = '';
let bin = '';
let cache = '';
let env: NodeJS.ProcessEnv = {};

before(() => {
  assert.ok(existsSync(BUILT), `${BUILT} is missing: npm test builds it first (npm run build)`);
  top = mkdtempSync(join(tmpdir(), 'ptyb-binary-'));
  runDir = join(top, 'run');
  cache = join(top, 'cache');
  const home = join(top, 'home');
  // The system's node lives in /usr/bin, so PATH is a directory of a few plain tools
  // (what exec: and the shell need) and nothing else.
  const tools = join(top, 'tools');
  for (const d of [runDir, home, tools]) mkdirSync(d);
  for (const t of ['sh', 'cat', 'echo', 'printf', 'stty', 'env', 'sleep', 'ls']) {
    const at = ['/bin', '/usr/bin'].map((d) => join(d, t)).find((p) => existsSync(p));
    if (at) symlinkSync(at, join(tools, t));
  }
  bin = join(runDir, 'ptybridge');
  copyFileSync(BUILT, bin);
  chmodSync(bin, 0o755);
  env = { PATH: tools, HOME: home, XDG_CACHE_HOME: cache };
});

after(() => {
  if (top) rmSync(top, { recursive: true, force: true });
});

/** Runs the copied binary to completion in its lonely directory with the clean environment. */
async function runBin(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const r = await runTool(bin, args, { env, cwd: runDir });
  return { ...r, stdout: r.stdout.toString() };
}

/** Starts the copied binary until it prints its "listening on" lines. */
const startBin = (args: string[], listeners = 1) => startPtyb(args, { cmd: [bin], env, cwd: runDir, listeners });

const schemes = new Map<string, boolean>();
/** Whether main has this scheme yet (other branches add them); the test skips naming it if not. */
async function needScheme(t: TestContext, ...names: string[]): Promise<boolean> {
  for (const name of names) {
    if (!schemes.has(name)) schemes.set(name, (await runBin(['--help', name])).code === 0);
    if (!schemes.get(name)) {
      t.skip(`scheme ${name}: is not in this build yet`);
      return false;
    }
  }
  return true;
}

test('the binary runs alone: no node on PATH, nothing else in its directory', () => {
  const which = spawnSync('/bin/sh', ['-c', 'command -v node'], { env, cwd: runDir });
  assert.notEqual(which.status, 0, `node found on PATH: ${which.stdout}`);
  assert.deepEqual(readdirSync(runDir), ['ptybridge']);
});

test('--help prints the usage and the schemes', async () => {
  const r = await runBin(['--help']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /Usage: ptybridge/);
  assert.match(r.stdout, /tcp-listen:/);
  assert.equal(r.stderr, '', 'no experimental-SEA warning or anything else on stderr');
});

test('--version names the version and the embedded Node 24', async () => {
  const r = await runBin(['--version']);
  assert.equal(r.code, 0, r.stderr);
  const escaped = PKG.version.replace(/\./g, '\\.');
  // Someone's NODE_OPTIONS is not the binary's business (execArgvExtension: cli).
  const saved = env;
  env = { ...saved, NODE_OPTIONS: '--require /nonexistent/preload.js' };
  const withNodeOptions = await runBin(['--version']).finally(() => (env = saved));
  assert.equal(withNodeOptions.stdout, r.stdout, withNodeOptions.stderr);
  assert.match(r.stdout, new RegExp(`^ptybridge ${escaped} \\(node v24\\.\\d+\\.\\d+\\)\n$`));
});

test('tcp-listen ↔ tcp through the binary: 4 MiB both ways, byte-exact', async () => {
  const upstream = await acceptOne();
  const upstreamSocket = upstream.first;
  const pb = await startBin(['tcp-listen:0', `tcp:127.0.0.1:${upstream.port}`]);
  try {
    const client = await connectTcp(pb.listening[0]!.port);
    await transferBothWays(client, await upstreamSocket, 4 * 1024 * 1024);
  } finally {
    await pb.stop();
    await upstream.close();
  }
});

test('--config: a YAML file of routes is checked, then run, from the binary', async () => {
  const upstream = await acceptOne();
  const upstreamSocket = upstream.first;
  const config = join(top, 'routes.yaml');
  writeFileSync(config, `version: 1\nroutes:\n  - name: fwd\n    left: tcp-listen:0\n    right: tcp:127.0.0.1:${upstream.port}\n`);
  try {
    const check = await runBin(['--config', config, '--check']);
    assert.equal(check.code, 0, check.stderr);
    assert.match(check.stdout, /fwd/);
    const pb = await startBin(['--config', config]);
    try {
      const client = await connectTcp(pb.listening[0]!.port);
      await sendExactly(client, await upstreamSocket, randomBytes(64 * 1024));
      client.destroy();
    } finally {
      await pb.stop();
    }
  } finally {
    await upstream.close();
  }
});

test('native addons: cached privately by hash; a corrupted copy is rewritten, not loaded', async () => {
  const originals: Record<string, Buffer> = {
    pty: readFileSync(join(ROOT, 'node_modules/@lydell/node-pty-linux-x64/pty.node')),
    serialport: readFileSync(join(ROOT, 'node_modules/@serialport/bindings-cpp/prebuilds/linux-x64/@serialport+bindings-cpp.glibc.node')),
    'malloc-trim': readFileSync(join(ROOT, 'dist/native/malloc-trim-linux-x64.node')),
  };
  const dir = join(cache, 'ptybridge');
  const check = async () => {
    const r = await runBin(['--version', '-v']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /node-pty: ok\n/, r.stdout);
    assert.match(r.stdout, /serialport: ok\n/, r.stdout);
    assert.match(r.stdout, /malloc-trim: ok\n/, r.stdout);
    const files = readdirSync(dir).sort();
    assert.equal(files.length, 3, `no stray temporary files: ${files.join(' ')}`);
    for (const [name, bytes] of Object.entries(originals)) {
      const hash = sha256(bytes);
      const file = files.find((f) => f.startsWith(`${name}-`));
      assert.equal(file, `${name}-${hash.slice(0, 16)}.node`);
      assert.equal(sha256(readFileSync(join(dir, file))), hash, `${file} holds the addon's exact bytes`);
    }
    assert.equal(statSync(dir).mode & 0o777, 0o700, 'the cache is private to the user');
    return (name: string) => join(dir, files.find((f) => f.startsWith(`${name}-`))!);
  };
  const cached = await check();
  const [ptyFile, serialFile] = [cached('pty'), cached('serialport')];
  // Garbage of the same size (dlopen would fail on it) and a truncated copy.
  writeFileSync(ptyFile!, randomBytes(originals.pty!.length));
  truncateSync(serialFile!, 1000);
  // And a temporary left by a process killed mid-write, an hour ago: cleaned up on the rewrite.
  const stale = join(dir, '.pty-0000.node.123.abcd.tmp');
  writeFileSync(stale, 'half');
  utimesSync(stale, new Date(Date.now() - 3600_000), new Date(Date.now() - 3600_000));
  await check();
});

test('without XDG_CACHE_HOME the addons are cached in ~/.cache/ptybridge', async () => {
  const saved = env;
  env = { PATH: saved.PATH, HOME: saved.HOME };
  try {
    const r = await runBin(['-V', '-v']);
    assert.equal(r.code, 0, r.stderr);
    const dir = join(saved.HOME!, '.cache', 'ptybridge');
    assert.match(r.stdout, new RegExp(`cached in ${dir}\\)`));
    assert.match(r.stdout, /node-pty: ok\n {2}serialport: ok\n {2}malloc-trim: ok\n$/);
    assert.equal(readdirSync(dir).length, 3);
    assert.equal(statSync(dir).mode & 0o777, 0o700);
  } finally {
    env = saved;
  }
});

test('pty:?link= ↔ serial: on the link, through two binaries and tcp, both ways', async (t) => {
  if (!(await needScheme(t, 'pty', 'serial'))) return;
  const link = join(top, 'ttyV0');
  const side = await startBin([`pty:?link=${link}&raw`, 'tcp-listen:0']);
  const serial = await startBin([`serial:${link}?baud=115200`, 'tcp-listen:0']);
  try {
    const a = await connectTcp(side.listening[0]!.port);
    const b = await connectTcp(serial.listening[0]!.port);
    // Both addons load from the cache and carry random bytes exactly, each way in turn.
    await sendExactly(a, b, randomBytes(256 * 1024));
    await sendExactly(b, a, randomBytes(256 * 1024));
    a.destroy();
    b.destroy();
  } finally {
    await serial.stop();
    await side.stop();
  }
});

/** Writes `payload` into `from` and asserts exactly those bytes come out of `to` (which stays open). */
async function sendExactly(from: net.Socket, to: net.Socket, payload: Buffer): Promise<void> {
  const got: Buffer[] = [];
  let n = 0;
  const arrived = new Promise<void>((resolve) => {
    const onData = (c: Buffer) => {
      got.push(c);
      if ((n += c.length) >= payload.length) {
        to.off('data', onData);
        resolve();
      }
    };
    to.on('data', onData);
  });
  await writeAll(from, payload, { keepOpen: true });
  await arrived;
  const all = Buffer.concat(got);
  assert.equal(all.length, payload.length);
  assert.equal(sha256(all), sha256(payload));
}

test('exec:sh through tcp: a command runs and its output comes back', async (t) => {
  if (!(await needScheme(t, 'exec'))) return;
  const pb = await startBin(['tcp-listen:0', 'exec:sh']);
  try {
    const s = await connectTcp(pb.listening[0]!.port);
    const out = readUntil(s, 'answer=42');
    s.write('echo answer=$((6*7))\n');
    await out;
    s.end('exit\n');
    s.destroy();
  } finally {
    await pb.stop();
  }
});

test('ws-listen: the terminal page is served and a WebSocket round trip is byte-exact', async (t) => {
  if (!(await needScheme(t, 'ws-listen'))) return;
  const { WebSocket } = await import('ws');
  const upstream = await acceptOne();
  const upstreamSocket = upstream.first;
  const pb = await startBin([withToken('ws-listen:0'), `tcp:127.0.0.1:${upstream.port}`]);
  try {
    const { host, port } = pb.listening[0]!;
    const base = `${host.includes(':') ? `[${host}]` : host}:${port}`;
    const page = await fetch(`http://${base}/`, { headers: authHeader });
    assert.equal(page.status, 200);
    const html = await page.text();
    assert.match(html, /<html/i);
    const script = /<script src="([^"]+)"/.exec(html)?.[1];
    assert.ok(script, 'the page loads its script');
    const js = await fetch(new URL(script, `http://${base}/`), { headers: authHeader });
    assert.equal(js.status, 200);
    assert.match(await js.text(), /xterm-helper-textarea/, 'the script is the bundled xterm.js terminal');

    const ws = new WebSocket(`ws://${base}/?token=${TOKEN}`, ['binary']);
    ws.binaryType = 'nodebuffer';
    await once(ws, 'open');
    const up = await upstreamSocket;
    const payload = randomBytes(256 * 1024);
    const gotUp: Buffer[] = [];
    let upLen = 0;
    const upDone = new Promise<void>((r) =>
      up.on('data', (c: Buffer) => {
        gotUp.push(c);
        if ((upLen += c.length) >= payload.length) r();
      }),
    );
    ws.send(payload);
    await upDone;
    assert.equal(sha256(Buffer.concat(gotUp)), sha256(payload), 'ws → tcp');
    const back = randomBytes(256 * 1024);
    const gotWs: Buffer[] = [];
    let wsLen = 0;
    const wsDone = new Promise<void>((r) =>
      ws.on('message', (m: Buffer) => {
        gotWs.push(m);
        if ((wsLen += m.length) >= back.length) r();
      }),
    );
    up.write(back);
    await wsDone;
    assert.equal(sha256(Buffer.concat(gotWs)), sha256(back), 'tcp → ws');
    ws.close();
  } finally {
    await pb.stop();
    await upstream.close();
  }
});

test('--metrics and --log-format json from the binary: prom-client is inside; the text passes promtool', async () => {
  const pb = await startBin(['--metrics', '0', '--log-format', 'json', 'exec:cat?share', 'tcp-listen:0']);
  try {
    const lines = pb
      .stderr()
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { event: string; url?: string });
    const url = lines.find((l) => l.event === 'metrics-listening')?.url;
    assert.ok(url, pb.stderr());
    const text = await (await fetch(url)).text();
    assert.match(text, /^ptybridge_console_up\{console="exec:cat\?share"\} 1$/m);
    assert.match(text, /^process_resident_memory_bytes \d+$/m);
    const lint = spawnSync('promtool', ['check', 'metrics'], { input: text });
    assert.equal(lint.status, 0, String(lint.stdout));
  } finally {
    await pb.stop();
  }
});

// Secrets stay where they belong: blank tokens refused, --check and typos redacted, $PTYBRIDGE_TOKEN not inherited, env= hidden from watchers, metrics Host-checked, a rotated token file followed on SIGHUP.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { readUntil, runPtyb, startPtyb } from './helpers/ptyb.js';
import { openWs, rawGet, TOKEN } from './helpers/ws.js';

const dir = mkdtempSync(path.join(tmpdir(), 'ptyb-secrets-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

/** Runs ptybridge expecting it to refuse at once; one that starts serving instead is stopped (after 10 s) and reported. */
async function refusal(args: string[], env?: NodeJS.ProcessEnv): Promise<{ code: number | null; stderr: string }> {
  const pb = await startPtyb(args, { listeners: 0, ...(env ? { env } : {}) });
  const timer = setTimeout(() => void pb.stop('SIGKILL'), 10_000);
  try {
    const { code } = await pb.exited;
    return { code, stderr: pb.stderr() };
  } finally {
    clearTimeout(timer);
  }
}

/** One line on stderr, exit 2, no stack. */
function oneLine(r: { code: number | null; stderr: string }, pattern: RegExp): void {
  assert.equal(r.code, 2, r.stderr);
  assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  assert.match(r.stderr, pattern);
  assert.doesNotMatch(r.stderr, /\n\s+at /);
}

test('an empty or blank token from any source is refused with exit 2 and one line, never a door open to anyone', { timeout: 60_000 }, async () => {
  const env = (v: string) => ({ ...process.env, PTYBRIDGE_TOKEN: v });
  oneLine(await refusal(['ws-listen:0?token=', 'exec:id']), /ws-listen:0\?token=…: token= is empty: expected a secret/);
  oneLine(await refusal(['ws-listen:0?token=%20%20', 'exec:id']), /token= is blank: expected a secret/);
  oneLine(await refusal(['ws-listen:0', 'exec:id'], env('   ')), /\$PTYBRIDGE_TOKEN is blank: expected a secret/);
  oneLine(await refusal(['ws-listen:0', 'exec:id'], env('')), /\$PTYBRIDGE_TOKEN is empty: expected a secret/);
  const blankFile = path.join(dir, 'blank');
  writeFileSync(blankFile, '  \n');
  oneLine(await refusal([`ws-listen:0?token-file=${blankFile}`, 'exec:id']), /token-file=\S+ is empty/);
  oneLine(await refusal(['exec:sh?share', `ws-listen:0?token=${TOKEN}&view-token=%20`]), /view-token= expects a secret \(its peers watch\), got blanks/);
  const users = path.join(dir, 'users');
  writeFileSync(users, 'alice full e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n');
  oneLine(await refusal(['exec:sh?share', `ws-listen:0?users=${users}`]), /the token hash for alice is the SHA-256 of an empty token/);
});

test('--check prints no token, view token, client token or env= secret; a misspelled key does not echo its value', { timeout: 60_000 }, async () => {
  const file = path.join(dir, 'check.yaml');
  writeFileSync(
    file,
    `version: 1
routes:
  - { name: a, left: "exec:sh?share&env=API_KEY=SEKRIT-env", right: "ws-listen:0/a?token=SEKRIT-token&view-token=SEKRIT-view" }
  - { name: b, left: "tcp-listen:0", right: "ws://127.0.0.1:9/?token=SEKRIT-client" }
`,
  );
  const r = await runPtyb(['--config', file, '--check']);
  assert.equal(r.code, 0, r.stderr);
  const out = r.stdout.toString();
  assert.match(out, /door      ws-listen:0\/a\?token=…&view-token=…  \[.*token=… .*view-token=…/);
  assert.doesNotMatch(out, /SEKRIT/);
  const typo = await refusal(['ws-listen:0?tokn=SEKRIT-typo', 'exec:id']);
  oneLine(typo, /ws-listen:0\?tokn=…: unknown option "tokn" \(did you mean "token"\?\)/);
  assert.doesNotMatch(typo.stderr, /SEKRIT/);
});

test('$PTYBRIDGE_TOKEN is taken out of the environment: a shell behind the door does not see it in env', { timeout: 60_000 }, async () => {
  const pb = await startPtyb(['exec:env', 'ws-listen:0'], { env: { ...process.env, PTYBRIDGE_TOKEN: 'SEKRIT-env-token' } });
  try {
    const ws = await openWs(`ws://127.0.0.1:${pb.listening[0]!.port}/`, { headers: { Authorization: 'Bearer SEKRIT-env-token' } });
    const chunks: Buffer[] = [];
    ws.on('message', (d: Buffer) => chunks.push(d));
    await new Promise((r) => ws.once('close', r));
    const text = Buffer.concat(chunks).toString();
    assert.match(text, /^PATH=/m, 'env ran and printed its environment');
    assert.doesNotMatch(text, /PTYBRIDGE_TOKEN|SEKRIT/);
  } finally {
    await pb.stop();
  }
});

test("a device URI's env= secret reaches no read-only watcher (loss notice), /api/consoles or metrics label; --metrics refuses a rebound Host", {
  timeout: 60_000,
}, async () => {
  const pb = await startPtyb(['--metrics', '0', "exec:sh -c 'sleep 0.5'?share&env=API_KEY=SEKRIT-env-7", 'tcp-listen:0?readonly'], { listeners: 1 });
  try {
    const base = /metrics on (http:\/\/\S+)\/metrics/.exec(pb.stderr())![1]!;
    const watcher = net.connect(pb.listening[0]!.port, '127.0.0.1');
    const notice = await readUntil(watcher, /lost: [^\]]*\]/);
    assert.match(Buffer.from(notice, 'latin1').toString(), /device exec:sh -c 'sleep 0\.5'\?share&env=… lost/);
    watcher.destroy();
    const api = await (await fetch(`${base}/api/consoles`)).text();
    const metrics = await (await fetch(`${base}/metrics`)).text();
    assert.match(metrics, /ptybridge_console_info\{console="exec:sh -c 'sleep 0\.5'\?share&env=…",device="[^"]*"\} 1/);
    for (const text of [notice, api, metrics, pb.stderr()]) assert.doesNotMatch(text, /SEKRIT/);
    // DNS rebinding: a page on attacker.example (resolved to 127.0.0.1) reads nothing.
    const port = new URL(base).port;
    for (const p of ['/metrics', '/api/consoles']) {
      const rebound = (await rawGet(Number(port), p, { Host: `attacker.example:${port}` })).status;
      assert.equal(rebound, 403, p);
      assert.equal((await rawGet(Number(port), p, { Host: `localhost:${port}` })).status, 200, p);
    }
  } finally {
    await pb.stop();
  }
});

test("token file rewritten then SIGHUP: the old token is refused, the new one accepted, the old token's peer let go", { timeout: 60_000 }, async () => {
  const file = path.join(dir, 'token');
  writeFileSync(file, 'old-token-1111\n');
  const pb = await startPtyb(['exec:cat?share', `ws-listen:0?token-file=${file}`]);
  try {
    const port = pb.listening[0]!.port;
    const url = `ws://127.0.0.1:${port}/`;
    const before = await openWs(url, { headers: { Authorization: 'Bearer old-token-1111' } });
    const closed = new Promise<number>((r) => before.once('close', (code: number) => r(code)));
    writeFileSync(file, 'new-token-2222\n');
    pb.proc.kill('SIGHUP');
    assert.equal(await closed, 1008);
    await assert.rejects(openWs(url, { headers: { Authorization: 'Bearer old-token-1111' } }), { status: 401 });
    (await openWs(url, { headers: { Authorization: 'Bearer new-token-2222' } })).terminate();
    await pb.logged(/token-file=\S+ changed: the new token is in force/);
    assert.doesNotMatch(pb.stderr(), /old-token|new-token/);
  } finally {
    await pb.stop();
  }
});

test('a shell on a door with no authentication (exec:bash tcp-listen:PORT) is said once at start, with the private ways; a private door or a plain forward says nothing', {
  timeout: 60_000,
}, async () => {
  const warning =
    /no authentication: anyone who can connect, every local user included, gets exec:sh; for a private console use unix-listen:PATH\?mode=0600, tls-listen with \?client-ca=, or ws-listen \(token\)/g;
  const open = await startPtyb(['exec:sh', 'tcp-listen:0']);
  try {
    const c = net.connect(open.listening[0]!.port, '127.0.0.1');
    c.write('echo a-$((20+1))\n');
    await readUntil(c, 'a-21'); // it really is a shell, and the peer got in
    c.destroy();
    assert.equal(open.stderr().match(warning)?.length, 1, open.stderr());
  } finally {
    await open.stop();
  }
  const sock = path.join(dir, 'private.sock');
  const quiet = await startPtyb(['exec:sh', `unix-listen:${sock}?mode=0600`]);
  const up = net.createServer((s) => s.end()).listen(0, '127.0.0.1');
  await new Promise((r) => up.once('listening', r));
  const forward = await startPtyb(['tcp-listen:0', `tcp:127.0.0.1:${(up.address() as net.AddressInfo).port}`]);
  try {
    assert.doesNotMatch(quiet.stderr(), /no authentication/);
    assert.doesNotMatch(forward.stderr(), /no authentication/);
  } finally {
    await quiet.stop();
    await forward.stop();
    up.close();
  }
});

test('a wrong token is told it is wrong, and refusals are logged at the default level (address, door, reason, never the token), 20 a minute at most', {
  timeout: 60_000,
}, async () => {
  const pb = await startPtyb(['exec:cat?share', `ws-listen:0?token=${TOKEN}`]);
  try {
    const port = pb.listening[0]!.port;
    const wrong = await rawGet(port, '/?token=SEKRIT-guess-0');
    assert.deepEqual([wrong.status, wrong.body], [401, 'wrong token\n']);
    for (let i = 1; i < 30; i++) assert.equal((await rawGet(port, `/?token=SEKRIT-guess-${i}`)).status, 401);
    assert.equal((await rawGet(port, `/?token=${TOKEN}`)).status, 200, 'the right one still gets in');
    await pb.logged(/refused 127\.0\.0\.1:\d+ \/: 401 wrong token/);
    const lines = pb
      .stderr()
      .split('\n')
      .filter((l) => l.includes('refused'));
    assert.equal(lines.length, 20, pb.stderr());
    assert.doesNotMatch(pb.stderr(), /SEKRIT/);
    assert.ok(!pb.stderr().includes(TOKEN), 'the right token is not logged either');
  } finally {
    await pb.stop();
  }
});

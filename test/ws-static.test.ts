// ws-listen ?static=DIR (websockify --web): traversal, symlinks (also swapped in while requests run), dotfiles, and the page's security headers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { spawnTracked, startPtyb } from './helpers/ptyb.js';
import { authHeader, rawGet as get, withToken } from './helpers/ws.js';

/** GET presenting the token. */
const rawGet = (port: number, reqPath: string) => get(port, reqPath, authHeader);

/** A served tree `app/` next to files that must never be served. */
function tree(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'ptyb-static-'));
  mkdirSync(path.join(dir, 'app', 'sub'), { recursive: true });
  mkdirSync(path.join(dir, 'outside'));
  writeFileSync(path.join(dir, 'outside', 'secret.txt'), 'SECRET outside');
  writeFileSync(path.join(dir, 'app', 'vnc.html'), '<p>novnc</p>');
  writeFileSync(path.join(dir, 'app', 'index.html'), 'index');
  writeFileSync(path.join(dir, 'app', 'sub', 'a.js'), 'inside-sub');
  writeFileSync(path.join(dir, 'app', '.env'), 'SECRET dotfile');
  mkdirSync(path.join(dir, 'app', '.git'));
  writeFileSync(path.join(dir, 'app', '.git', 'config'), 'SECRET git');
  symlinkSync('/etc/passwd', path.join(dir, 'app', 'leak'));
  symlinkSync(path.join(dir, 'outside'), path.join(dir, 'app', 'outdir'));
  symlinkSync('vnc.html', path.join(dir, 'app', 'alias.html'));
  execFileSync('mkfifo', [path.join(dir, 'app', 'fifo.html')]);
  return dir;
}

test('?static=DIR serves files with the security headers; .., encoded slashes, symlinks (file or directory) and dotfiles are 404', async () => {
  const dir = tree();
  const pb = await startPtyb([withToken(`ws-listen:0?static=${path.join(dir, 'app')}&web=off`), 'tcp:127.0.0.1:9']);
  try {
    const port = pb.listening[0]!.port;
    const ok = await rawGet(port, '/vnc.html');
    assert.equal(ok.status, 200);
    assert.equal(ok.body, '<p>novnc</p>');
    assert.match(String(ok.headers['content-type']), /text\/html/);
    // A served noVNC page cannot be framed by another site, leak its URL, or be sniffed.
    assert.equal(ok.headers['content-security-policy'], "frame-ancestors 'self'");
    assert.equal(ok.headers['x-frame-options'], 'SAMEORIGIN');
    assert.equal(ok.headers['referrer-policy'], 'no-referrer');
    assert.equal(ok.headers['x-content-type-options'], 'nosniff');
    assert.equal((await rawGet(port, '/')).body, 'index', 'a directory serves its index.html');
    assert.equal((await rawGet(port, '/sub/a.js')).body, 'inside-sub');
    // A FIFO is opened without blocking and refused; a symlink, even to a file inside, is not followed.
    for (const p of [
      '/../../etc/passwd',
      '/..%2f..%2f..%2fetc/passwd',
      '/%2e%2e/%2e%2e/etc/passwd',
      '/leak',
      '/outdir/secret.txt',
      '/alias.html',
      '/nope.html',
      '/vnc.html%00.txt',
      '/.env',
      '/.git/config',
      '/%2egit/config',
      '/sub/../.env',
      '/fifo.html',
      '/vnc.html/x',
    ]) {
      const res = await rawGet(port, p);
      assert.equal(res.status, 404, p);
      assert.doesNotMatch(res.body, /root:|SECRET/, p);
    }
  } finally {
    await pb.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('?dotfiles serves names starting with a dot; symlinks stay refused', async () => {
  const dir = tree();
  const pb = await startPtyb([withToken(`ws-listen:0?static=${path.join(dir, 'app')}&dotfiles`), 'tcp:127.0.0.1:9']);
  try {
    const port = pb.listening[0]!.port;
    assert.equal((await rawGet(port, '/.env')).body, 'SECRET dotfile');
    assert.equal((await rawGet(port, '/.git/config')).body, 'SECRET git');
    assert.equal((await rawGet(port, '/leak')).status, 404);
    assert.equal((await rawGet(port, '/..%2foutside/secret.txt')).status, 404);
  } finally {
    await pb.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a writer swapping a file for a symlink to a secret while requests run: not one response serves the secret', { timeout: 60_000 }, async () => {
  const dir = tree();
  const app = path.join(dir, 'app');
  // The same length as the secret, so that a stat of one and a read of the other still make a clean answer.
  writeFileSync(path.join(app, 'race.txt'), 'inside-file-ok');
  // Atomic swaps (rename over the name): race.txt is a regular file inside, then a symlink
  // to outside/secret.txt, then a file again, as fast as Python goes.
  const writer = spawnTracked('/usr/bin/python3', [
    '-c',
    `
import os, sys
app, secret = sys.argv[1], sys.argv[2]
t1, t2, race = os.path.join(app, 'tmp-link'), os.path.join(app, 'tmp-file'), os.path.join(app, 'race.txt')
while True:
    os.symlink(secret, t1); os.replace(t1, race)
    with open(t2, 'w') as f: f.write('inside-file-ok')
    os.replace(t2, race)
`,
    app,
    path.join(dir, 'outside', 'secret.txt'),
  ]);
  writer.stderr!.resume();
  const pb = await startPtyb([withToken(`ws-listen:0?static=${app}&web=off`), 'tcp:127.0.0.1:9']);
  try {
    const port = pb.listening[0]!.port;
    const counts = { inside: 0, secret: 0, missing: 0, broken: 0 };
    const worker = async () => {
      for (let i = 0; i < 150; i++) {
        const res = await rawGet(port, '/race.txt').catch(() => undefined);
        if (!res) counts.broken++;
        else if (res.body.includes('SECRET')) counts.secret++;
        else if (res.status === 200 && res.body === 'inside-file-ok') counts.inside++;
        else counts.missing++;
      }
    };
    await Promise.all([worker(), worker(), worker(), worker()]);
    process.stderr.write(`# static race: ${JSON.stringify(counts)}\n`);
    assert.equal(writer.exitCode, null, 'the writer raced all along');
    assert.equal(counts.secret + counts.broken, 0, `responses with the secret, or cut: ${JSON.stringify(counts)}`);
    assert.ok(counts.inside > 0, `the file was served while it was a file: ${JSON.stringify(counts)}`);
  } finally {
    if (writer.exitCode === null) {
      writer.kill('SIGKILL');
      await once(writer, 'exit');
    }
    await pb.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

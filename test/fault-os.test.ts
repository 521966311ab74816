// What the OS refuses: another user connecting to a ?mode=0600 socket, a full disk under file:.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type net from 'node:net';
import { runPtyb, runTool, startPtyb, tcpServer } from './helpers/ptyb.js';

const isRoot = process.getuid?.() === 0;
/** Runs a command as `nobody`, with no supplementary groups. */
const asNobody = (cmd: string[], input = '') => runTool('setpriv', ['--reuid=nobody', '--regid=nogroup', '--clear-groups', ...cmd], { input });

test('unix-listen ?mode=0600: another user cannot connect (EACCES); ?mode=0666: they can', { skip: !isRoot && 'needs root to switch to nobody' }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ptyb-mode-'));
  chmodSync(dir, 0o755); // the directory is open; only the socket's mode decides
  const up = await tcpServer((s) => s.pipe(s));
  try {
    for (const [mode, allowed] of [
      ['0600', false],
      ['0666', true],
    ] as const) {
      const path = join(dir, `s${mode}.sock`);
      const pb = await startPtyb([`unix-listen:${path}?mode=${mode}`, `tcp:127.0.0.1:${up.port}`]);
      try {
        assert.equal(statSync(path).mode & 0o777, parseInt(mode, 8));
        const res = await asNobody(['socat', '-t', '5', '-', `UNIX-CONNECT:${path}`], 'hello\n');
        if (allowed) {
          assert.equal(res.code, 0, res.stderr);
          assert.equal(res.stdout.toString(), 'hello\n');
        } else {
          assert.notEqual(res.code, 0);
          assert.match(res.stderr, /Permission denied/);
          assert.equal(res.stdout.length, 0);
        }
      } finally {
        await pb.stop();
      }
    }
  } finally {
    await up.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('file: on a full disk (1 MiB tmpfs): one line naming the file and ENOSPC, exit 1, the bytes that fit are a prefix', {
  skip: !isRoot && 'needs root to mount a tmpfs',
}, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ptyb-full-'));
  const mnt = join(dir, 'mnt');
  mkdirSync(mnt);
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', mnt]);
  const payload = randomBytes(4 * 1024 * 1024);
  let sent!: (s: net.Socket) => void;
  const sender = new Promise<net.Socket>((r) => (sent = r));
  const up = await tcpServer((s) => {
    s.on('error', () => {});
    s.end(payload);
    sent(s);
  });
  try {
    const target = join(mnt, 'out.bin');
    const res = await runPtyb([`tcp:127.0.0.1:${up.port}`, `file:${target}?create&writeonly`]);
    await sender;
    assert.equal(res.code, 1, res.stderr);
    const lines = res.stderr.trim().split('\n');
    assert.equal(lines.length, 1, res.stderr);
    assert.match(lines[0]!, /file .*out\.bin: ENOSPC \(no space left on device\)/);
    const { readFileSync } = await import('node:fs');
    const written = readFileSync(target);
    assert.ok(written.length > 0 && written.length <= 1024 * 1024);
    assert.ok(written.equals(payload.subarray(0, written.length)), 'what fit is a prefix of what was sent');
  } finally {
    await up.close();
    execFileSync('umount', [mnt]);
    rmSync(dir, { recursive: true, force: true });
  }
});

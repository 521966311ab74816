// Features between features: ?history and --log on one shared console, behind tcp-listen?telnet with /usr/bin/telnet (in tmux) and behind unix-listen with socat; a history disk that fills mid-run leaves the door serving.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Client, DOORS, type Door, REAL_TELNET, sees } from './helpers/matrix.js';
import { type Running, sha256, startPtyb } from './helpers/ptyb.js';
import { until } from './helpers/until.js';

const UNIX_SOCAT = DOORS.find((d) => d.name === 'unix-listen + socat')!;

/** Printable lines (no byte telnet would escape or translate), \n-ended: the pty's onlcr makes them \r\n. */
function lines(bytes: number): Buffer {
  const out: string[] = [];
  let n = 0;
  while (n < bytes) {
    const line = `${randomBytes(24).toString('base64')} ${n}\n`;
    out.push(line);
    n += line.length;
  }
  return Buffer.from(out.join(''));
}
const crlf = (b: Buffer) => Buffer.from(b.toString('latin1').replaceAll('\n', '\r\n'), 'latin1');

/**
 * The shared command: waits for a first line (so every byte it prints is printed after the
 * client is there to see it), prints DATA and READY, then answers each line with got:LINE.
 */
const device = (data: string, opts: string) =>
  `exec:stty -echo; read go; cat ${data}; echo READY; while read l; do echo "got:$l"; done?shell&share&replay=0&${opts}`;

/** The .cast files' output events, oldest file first (an unfinished last line is ignored, as readers do). */
function historyOutput(dir: string): Buffer {
  const parts: string[] = [];
  for (const name of readdirSync(dir)
    .filter((n) => n.endsWith('.cast'))
    .sort()) {
    const all = readFileSync(join(dir, name), 'utf8').split('\n').slice(0, -1);
    const header = JSON.parse(all[0]!) as { version: number };
    assert.equal(header.version, 2, `${name} is asciicast v2`);
    for (const l of all.slice(1)) {
      const [, kind, text] = JSON.parse(l) as [number, string, string];
      if (kind === 'o') parts.push(text);
    }
  }
  return Buffer.from(parts.join(''), 'utf8');
}

const STAMP = /^\[\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\] /;
/** The device's bytes back from a --log transcript: timestamps and event lines dropped, one leading \ removed. */
function logOutput(file: string): Buffer {
  const text = readFileSync(file, 'latin1');
  const kept = text
    .split('\n')
    .slice(0, -1)
    .map((l) => l.replace(STAMP, ''))
    .filter((l) => !l.startsWith('---'))
    .map((l) => (l.startsWith('\\') ? l.slice(1) : l));
  return Buffer.from(kept.map((l) => `${l}\n`).join(''), 'latin1');
}

/** What the client printed of the console: telnet's own lines before the data are cut off. */
function consoleBytes(door: Door, c: Client): Buffer {
  const got = c.got();
  if (door !== REAL_TELNET) return got;
  const at = got.indexOf("Escape character is '^]'.");
  return got.subarray(got.indexOf('\n', at) + 1);
}

for (const door of [REAL_TELNET, UNIX_SOCAT]) {
  test(`?history and --log behind ${door.name}: the device's bytes exactly in the client, the .cast and the transcript; typed lines reach the device`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ptyb-mxh-'));
    const data = join(dir, 'data.txt');
    const sent = lines(256 * 1024);
    writeFileSync(data, sent);
    const hist = join(dir, 'hist');
    const log = join(dir, 'console.log');
    let pb: Running | undefined;
    let c: Client | undefined;
    try {
      pb = await startPtyb(['-v', '--log', log, device(data, `history=${hist}`), door.uri(dir)]);
      c = await door.connect(pb);
      await pb.logged(/\(1 peer\)/);
      c.write('go\n');
      const printed = Buffer.concat([crlf(sent), Buffer.from('READY\r\n')]);
      await sees(c, printed);
      c.write('typed-through-the-door\n');
      await sees(c, 'got:typed-through-the-door\r\n');
      const shown = consoleBytes(door, c);
      // Everything the device printed, and nothing else, in the client, the history and the log.
      assert.ok(shown.subarray(0, printed.length).equals(printed), 'the client got the device output first, byte-exact');
      await until(() => historyOutput(hist).includes('got:typed-through-the-door\r\n'), { what: 'the answer in the history' });
      await until(() => existsSync(log) && logOutput(log).includes('got:typed-through-the-door\r\n'), { what: 'the answer in the log' });
      const h = historyOutput(hist);
      const l = logOutput(log);
      assert.equal(sha256(h), sha256(shown), 'the .cast output is what the client got');
      assert.equal(sha256(l), sha256(shown), 'the transcript holds what the client got');
      assert.ok(h.subarray(0, printed.length).equals(printed));
      assert.doesNotMatch(pb.stderr(), /refused|recording paused|warn/i);
    } finally {
      await c?.close();
      await pb?.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test(`a history disk that fills mid-run (64 KiB tmpfs) behind ${door.name}: one warning, the client keeps every byte and keeps typing, the log keeps all`, async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'ptyb-mxh-'));
    const mnt = join(dir, 'small');
    mkdirSync(mnt);
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', mnt], { stdio: 'ignore' });
    } catch {
      rmSync(dir, { recursive: true, force: true });
      t.skip('cannot mount a tmpfs here (needs root)');
      return;
    }
    const data = join(dir, 'data.txt');
    const sent = lines(512 * 1024); // 8 times the disk
    writeFileSync(data, sent);
    const log = join(dir, 'console.log');
    let pb: Running | undefined;
    let c: Client | undefined;
    try {
      pb = await startPtyb(['-v', '--log', log, device(data, `history=${join(mnt, 'h')}`), door.uri(dir)]);
      c = await door.connect(pb);
      await pb.logged(/\(1 peer\)/);
      c.write('go\n');
      const printed = Buffer.concat([crlf(sent), Buffer.from('READY\r\n')]);
      await sees(c, printed);
      await pb.logged(/history .*: ENOSPC; recording paused, the console keeps serving/);
      // Still serving both ways after the disk filled.
      c.write('after-the-disk-filled\n');
      await sees(c, 'got:after-the-disk-filled\r\n');
      assert.ok(consoleBytes(door, c).subarray(0, printed.length).equals(printed), 'the client got every byte, in order');
      await until(() => existsSync(log) && logOutput(log).includes('got:after-the-disk-filled\r\n'), { what: 'the answer in the log' });
      assert.ok(logOutput(log).subarray(0, printed.length).equals(printed), 'the log is not held up by the full history disk');
      assert.equal(pb.stderr().match(/recording paused/g)?.length, 1, 'one warning');
      assert.equal(pb.proc.exitCode, null, 'ptybridge still runs');
    } finally {
      await c?.close();
      await pb?.stop();
      try {
        execFileSync('umount', ['-l', mnt], { stdio: 'ignore' });
      } catch {}
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

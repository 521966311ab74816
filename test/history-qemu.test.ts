// A real QEMU guest booted behind ptybridge with ?history and nobody connected: the recording plays with Debian's asciinema and holds the kernel's first line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runTool, startPtyb } from './helpers/ptyb.js';
import { guestEvents, guestFiles, PROMPT, startGuest, stopGuest } from './helpers/qemu.js';
import { until } from './helpers/until.js';

/** The "o" text of a .cast file (complete lines only). */
function castText(file: string): string {
  const lines = fs.readFileSync(file, 'utf8').split('\n').slice(1, -1);
  return lines
    .map((l) => JSON.parse(l) as [number, string, string])
    .filter((e) => e[1] === 'o')
    .map((e) => e[2])
    .join('');
}

test('a QEMU boot nobody watched: the history file plays with asciinema and starts with the kernel banner', { timeout: 240_000 }, async (t) => {
  const files = await guestFiles();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ptyb-history-qemu-'));
  const sock = path.join(dir, 'vm.serial0');
  const hist = path.join(dir, 'history');
  // ptybridge first, waiting for the socket; QEMU holds the guest until ptybridge is connected
  // (wait=on), so that no line of the boot is written before anyone could record it.
  const pb = await startPtyb(['-v', '--wait-for-device', `unix:${sock}?share&history=${hist}&mark=Linux version`, 'tcp-listen:127.0.0.1:0']);
  let qemu: ChildProcess | undefined;
  // The runner aborts the signal when the test ends, passed or not: only a test cut short reports.
  let finished = false;
  t.signal.addEventListener('abort', () => finished || console.error(`--- guest:\n${guestEvents.join('\n')}\n--- ptybridge:\n${pb.stderr()}`));
  try {
    qemu = startGuest(files, `unix:${sock},server=on,wait=on`, 'console=ttyS0 panic=-1');
    const newest = () => {
      const names = fs.existsSync(hist)
        ? fs
            .readdirSync(hist)
            .filter((n) => n.endsWith('.cast'))
            .sort()
        : [];
      return names.length ? path.join(hist, names.at(-1)!) : undefined;
    };
    await until(
      () => {
        const f = newest();
        return f !== undefined && castText(f).includes(PROMPT);
      },
      { what: 'the guest prompt in the history', timeout: 180_000 },
    );
    assert.equal((await pb.stop()).code, 0);
    const file = newest()!;
    const header = JSON.parse(fs.readFileSync(file, 'utf8').split('\n')[0]!) as { version: number; ptybridge: { boot: boolean } };
    assert.equal(header.version, 2);
    assert.equal(header.ptybridge.boot, true);
    assert.match(fs.readFileSync(file, 'utf8'), /\[[\d.]+, "m", "mark: Linux version"\]/);
    // Debian's asciinema plays it (idle time cut to 10 ms) without a terminal.
    const played = await runTool('asciinema', ['play', '-i', '0.01', file]);
    assert.equal(played.code, 0, played.stderr);
    const text = played.stdout.toString('utf8');
    assert.match(text, /Linux version \d/);
    assert.ok(text.includes(PROMPT), 'the whole boot, to the shell prompt');
    // The kernel's first line comes before anything the guest's userland said.
    assert.ok(text.indexOf('Linux version') < text.indexOf(PROMPT));
    finished = true;
  } finally {
    await pb.stop();
    await stopGuest(qemu);
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

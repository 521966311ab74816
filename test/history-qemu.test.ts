// A real QEMU guest booted behind ptybridge with ?history and nobody connected: the recording plays with Debian's asciinema and holds the kernel's first line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { launch } from './helpers/browser.js';
import { runTool, startPtyb } from './helpers/ptyb.js';
import { guestEvents, guestFiles, PROMPT, startGuest, stopGuest } from './helpers/qemu.js';
import { until } from './helpers/until.js';
import { TOKEN } from './helpers/ws.js';

const noQemu = !fs.existsSync('/usr/bin/qemu-system-x86_64') && 'qemu-system-x86_64 is not installed';

/** The "o" text of a .cast file (complete lines only). */
function castText(file: string): string {
  const lines = fs.readFileSync(file, 'utf8').split('\n').slice(1, -1);
  return lines
    .map((l) => JSON.parse(l) as [number, string, string])
    .filter((e) => e[1] === 'o')
    .map((e) => e[2])
    .join('');
}

test('a QEMU boot nobody watched: the history file plays with asciinema and starts with the kernel banner; the time line of the page dragged to that mark shows it', {
  timeout: 300_000,
  skip: noQemu,
}, async (t) => {
  const files = await guestFiles();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ptyb-history-qemu-'));
  const sock = path.join(dir, 'vm.serial0');
  const hist = path.join(dir, 'history');
  // ptybridge first, waiting for the socket; QEMU holds the guest until ptybridge is connected
  // (wait=on), so that no line of the boot is written before anyone could record it.
  const pb = await startPtyb([
    '-v',
    '--wait-for-device',
    `unix:${sock}?share&history=${hist}&mark=Linux version`,
    `ws-listen:127.0.0.1:0/guest?token=${TOKEN}`,
  ]);
  let browser: Browser | undefined;
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
    // The page's history view: the time line dragged to the kernel's mark shows the screen of the early boot.
    browser = await launch();
    const page = await browser.newPage({ viewport: { width: 1000, height: 700 }, deviceScaleFactor: 1 });
    await page.goto(`http://127.0.0.1:${pb.listening[0]!.port}/guest#token=${TOKEN}`);
    await page.locator('#history-open').click();
    await page.waitForFunction(() => document.getElementById('history')!.dataset.state === 'ready');
    const line = (await page.locator('#history-line').boundingBox())!;
    const tick = page.locator('#history-line .tick.match').first();
    const box = (await tick.boundingBox())!;
    await page.mouse.move(line.x + line.width - 1, line.y + line.height / 2);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width / 2, line.y + line.height / 2, { steps: 8 });
    await page.mouse.up();
    const at = (await tick.getAttribute('data-position'))!;
    await page.waitForFunction((p) => {
      const h = document.getElementById('history')!;
      return h.dataset.state === 'ready' && h.dataset.position === p;
    }, at);
    const shown = await page.evaluate(() => {
      type B = { length: number; getLine(i: number): { translateToString(trim: boolean): string } | undefined };
      const b = (window as unknown as { ptybridgeHistory: { term: { buffer: { active: B } } } }).ptybridgeHistory.term.buffer.active;
      const rows: string[] = [];
      for (let i = 0; i < b.length; i++) rows.push(b.getLine(i)?.translateToString(true) ?? '');
      return rows.join('\n');
    });
    // The mark is made as soon as the line matches (src/router/history.ts scanMarks), so the screen
    // at it may end right after "Linux version": the serial port can cut the line there.
    assert.match(shown, /\] Linux version/);
    assert.ok(!shown.includes(PROMPT), `the screen at the kernel's mark is the early boot:\n${shown}`);
    await browser.close();
    browser = undefined;
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
    await browser?.close();
    await pb.stop();
    await stopGuest(qemu);
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

// A late joiner sees the current screen (replay=screen) through every door: the page in Chromium, /usr/bin/telnet in tmux, a raw socket.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { launch, screenLines } from './helpers/browser.js';
import { readText, startFakeVm } from './helpers/devices.js';
import { connectTcp, runTool, startPtyb, type Running } from './helpers/ptyb.js';
import { until, within } from './helpers/until.js';
import { app, LAST } from './helpers/screen-app.js';

const TOKEN = 'screen-test-token';
/** The assertions on a joiner's 80x24-or-larger screen: title row 3, footer row 24, the last clock on row 1. */
function assertScreen(rows: string[], where: string): void {
  const all = rows.join('\n');
  assert.match(rows[2] ?? '', /^ {29}BIOS SETUP TITLE/, `${where}: title on row 3:\n${all}`);
  assert.match(rows[23] ?? '', /^F1 Help {2}F10 Save and exit/, `${where}: footer on row 24:\n${all}`);
  assert.match(rows[0] ?? '', new RegExp(`^ {69}${LAST}`), `${where}: the current clock on row 1:\n${all}`);
}

/**
 * A first peer (a watcher on tcp) that is there before the drawing starts: once it has seen all of it, so has the hub.
 * It is in the hub once ptybridge logs it: a client's 'connect' comes before ptybridge accepts, and a
 * watcher added after the drawing began gets the screen, not the raw bytes it waits for.
 */
async function watch(pb: Running): Promise<{ socket: import('node:net').Socket; drawn: () => Promise<void> }> {
  const socket = await connectTcp(pb.listening[0]!.port);
  await pb.logged(/connected \(1 peer\)/, 'the watcher in the hub');
  return {
    socket,
    drawn: async () => {
      await within(readText(socket, LAST + '\x1b[12;5H'), { timeout: 20_000, what: 'the watcher to see the whole drawing' });
      socket.destroy();
    },
  };
}

async function pageRows(browser: Browser, port: number): Promise<{ rows: string[]; title: string; modes: unknown }> {
  const page = await browser.newPage({ viewport: { width: 1000, height: 700 } });
  await page.goto(`http://127.0.0.1:${port}/?token=${TOKEN}`);
  await page.waitForSelector('#status.connected');
  const rows = await until(
    async () => {
      const r = await screenLines(page);
      return r.join('\n').includes(LAST) ? r : undefined;
    },
    { timeout: 15_000, step: 50, what: `the page to show ${JSON.stringify(LAST)}`, detail: async () => (await screenLines(page)).join('\n') },
  );
  const state = await page.evaluate(() => {
    const t = (
      window as unknown as {
        ptybridge: { term: { modes: { applicationCursorKeysMode: boolean; bracketedPasteMode: boolean }; buffer: { active: { type: string } } } };
      }
    ).ptybridge.term;
    return {
      modes: { app: t.modes.applicationCursorKeysMode, paste: t.modes.bracketedPasteMode, buffer: t.buffer.active.type },
      title: document.getElementById('title')!.textContent ?? '',
    };
  });
  await page.close();
  return { rows, title: state.title, modes: state.modes };
}

async function telnetRows(port: number): Promise<string[]> {
  const sock = `ptyb-screen-${process.pid}-${port}`;
  const tmux = (...a: string[]) => runTool('tmux', ['-L', sock, ...a]);
  try {
    await tmux('new-session', '-d', '-x', '80', '-y', '24', `/usr/bin/telnet 127.0.0.1 ${port}`);
    const pane = async () => (await tmux('capture-pane', '-p')).stdout.toString();
    const s = await until(
      async () => {
        const text = await pane();
        return text.includes(LAST) ? text : undefined;
      },
      { timeout: 15_000, step: 50, what: `telnet's screen to show ${JSON.stringify(LAST)}`, detail: pane },
    );
    return s.split('\n');
  } finally {
    await tmux('kill-server');
  }
}

/** Starts a device behind tcp (the watcher), tcp?telnet and ws-listen, and has it draw the app. */
async function drawn(device: 'pty' | 'exec', replay?: string): Promise<{ pb: Running; close(): Promise<void> }> {
  const q = replay ? `replay=${replay}` : '';
  const doors = ['tcp-listen:0', 'tcp-listen:0?telnet', `ws-listen:0?token=${TOKEN}`];
  if (device === 'pty') {
    const vm = await startFakeVm();
    const pb = await startPtyb(['-v', `pty:${vm.slave}${q ? `?${q}` : ''}`, ...doors], { listeners: 3 });
    return settled({ pb, close: async () => void (await pb.stop(), await vm.quit()) }, async () => {
      const w = await watch(pb);
      vm.say(app());
      await w.drawn();
    });
  }
  const dir = mkdtempSync(path.join(tmpdir(), 'ptyb-screen-'));
  writeFileSync(path.join(dir, 'app.bin'), app());
  // The app draws when the watcher says so (one byte, raw mode: no echo), then waits on its terminal.
  writeFileSync(
    path.join(dir, 'app.py'),
    `import os, sys, termios, tty\ntty.setraw(0, termios.TCSANOW)\nos.read(0, 1)\nos.write(1, open(${JSON.stringify(path.join(dir, 'app.bin'))}, 'rb').read())\nsys.stdin.read()\n`,
  );
  const pb = await startPtyb(['-v', `exec:/usr/bin/python3 ${path.join(dir, 'app.py')}?share${q ? `&${q}` : ''}`, ...doors], { listeners: 3 });
  return settled({ pb, close: async () => void (await pb.stop(), rmSync(dir, { recursive: true, force: true })) }, async () => {
    const w = await watch(pb);
    w.socket.write('g');
    await w.drawn();
  });
}

/** Runs `draw`; if it fails, closes what was started, so a failed test leaves no process keeping the file alive. */
async function settled<T extends { close(): Promise<void> }>(started: T, draw: () => Promise<void>): Promise<T> {
  try {
    await draw();
  } catch (err) {
    await started.close();
    throw err;
  }
  return started;
}

for (const device of ['pty', 'exec'] as const) {
  test(`late joiner on ${device}: the page and telnet show the alternate screen, title row, footer row and current clock`, { timeout: 60_000 }, async () => {
    const d = await drawn(device);
    const browser = await launch();
    try {
      const [, telnet, web] = d.pb.listening;
      const seen = await pageRows(browser, web!.port);
      assertScreen(seen.rows, 'page');
      assert.deepEqual(seen.modes, { app: true, paste: true, buffer: 'alternate' }, 'modes and the alternate buffer reach the page');
      assert.equal(seen.title, 'the-app-title');
      assertScreen(await telnetRows(telnet!.port), 'telnet');
      // A raw socket joiner: the first bytes are a reset, then the screen (no clock history).
      const raw = await connectTcp(d.pb.listening[0]!.port);
      const first = await readText(raw, LAST);
      raw.destroy();
      assert.ok(first.startsWith('\x1bc\x1b]0;the-app-title\x07'), JSON.stringify(first.slice(0, 40)));
      assert.equal(first.split('T0').length, 2, 'one clock value, not 3000');
    } finally {
      await browser.close();
      await d.close();
    }
  });
}

test('late joiner with ?replay=bytes: the byte tail as before (the clock, not the title or footer)', { timeout: 60_000 }, async () => {
  const d = await drawn('pty', 'bytes');
  const browser = await launch();
  try {
    const seen = await pageRows(browser, d.pb.listening[2]!.port);
    const all = seen.rows.join('\n');
    assert.ok(all.includes(LAST), all);
    assert.ok(!all.includes('BIOS SETUP TITLE') && !all.includes('F10 Save'), `only the last 16 KiB of bytes:\n${all}`);
    const raw = await connectTcp(d.pb.listening[0]!.port);
    const tail = await readText(raw, LAST + '\x1b[12;5H');
    raw.destroy();
    assert.equal(Buffer.byteLength(tail), 16 * 1024, 'exactly the 16 KiB tail');
    assert.ok(
      app()
        .subarray(-16 * 1024)
        .equals(Buffer.from(tail)),
    );
  } finally {
    await browser.close();
    await d.close();
  }
});

// A web shell outlives a reload (per-peer exec: behind ws-listen, one session per tab), ends after ?linger, and a reconnect doubles nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import WebSocket from 'ws';
import type { Browser, Page } from 'playwright-core';
import { launch, screen, waitForScreen } from './helpers/browser.js';
import { until } from './helpers/devices.js';
import { startPtyb } from './helpers/ptyb.js';

const TOKEN = 'session-test-token';

async function type(page: Page, text: string): Promise<void> {
  await page.locator('.xterm').click();
  await page.keyboard.type(text);
}

/** The shell's pid, asked of the shell itself. */
async function shellPid(page: Page, tag: string): Promise<number> {
  await type(page, `echo ${tag}-pid-$$\n`);
  const text = await waitForScreen(page, new RegExp(`^${tag}-pid-\\d+$`, 'm'));
  return Number(new RegExp(`^${tag}-pid-(\\d+)$`, 'm').exec(text)![1]);
}

/** A new tab on the page, connected. */
async function openTab(browser: Browser, url: string): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 900, height: 600 } });
  await page.goto(url);
  await page.waitForSelector('#status.connected');
  return page;
}

const SHELL = 'exec:/bin/bash --norc --noprofile?env=PS1=$%20';

test('reload keeps the shell and its screen; a second tab gets its own shell', { timeout: 60_000 }, async () => {
  const pb = await startPtyb(['-v', SHELL, `ws-listen:0?token=${TOKEN}`]);
  const browser = await launch();
  try {
    const url = `http://127.0.0.1:${pb.listening[0]!.port}/?token=${TOKEN}`;
    const page = await openTab(browser, url);
    const pid = await shellPid(page, 'first');
    await type(page, 'export X=42\n');
    await type(page, 'echo "set-$X"\n');
    await waitForScreen(page, /^set-42$/m);

    await page.reload();
    await page.waitForSelector('#status.connected');
    // The screen comes back before anything is typed, once.
    const restored = await waitForScreen(page, /^set-42$/m);
    assert.equal(restored.match(/^set-42$/gm)!.length, 1, restored);
    assert.equal(await shellPid(page, 'again'), pid, 'the same bash after the reload');
    await type(page, 'echo "got-$X"\n');
    await waitForScreen(page, /^got-42$/m);

    const tab2 = await openTab(browser, url);
    assert.notEqual(await shellPid(tab2, 'tab2'), pid, 'a new tab, a new shell');
    await type(tab2, 'echo "got-$X"\n');
    const other = await waitForScreen(tab2, /^got-$/m);
    assert.ok(!/set-42/.test(other), other);
  } finally {
    await browser.close();
    await pb.stop();
  }
});

test('after ?linger the detached shell is hung up and reaped; the tab then gets a new one', { timeout: 60_000 }, async () => {
  const pb = await startPtyb(['-v', `${SHELL}&linger=1s`, `ws-listen:0?token=${TOKEN}`]);
  const browser = await launch();
  try {
    const url = `http://127.0.0.1:${pb.listening[0]!.port}/?token=${TOKEN}`;
    const page = await openTab(browser, url);
    const pid = await shellPid(page, 'old');
    await type(page, 'export X=42\n');
    // The tab leaves (its sessionStorage stays with it) and stays away past the linger.
    await page.goto('about:blank');
    await until(() => !existsSync(`/proc/${pid}`));
    await until(() => /nobody came back within 1000 ms; hanging up/.test(pb.stderr()));
    await page.goto(url);
    await page.waitForSelector('#status.connected');
    const fresh = await shellPid(page, 'new');
    assert.notEqual(fresh, pid);
    await type(page, 'echo "got-$X"\n');
    await waitForScreen(page, /^got-$/m);
    assert.ok(!(await screen(page)).includes('old-pid'), "the expired session's screen is not shown");
  } finally {
    await browser.close();
    await pb.stop();
  }
});

for (const [name, args] of [
  ['a per-peer shell', [SHELL]],
  ['a shared shell (hub)', [`${SHELL}&share`]],
] as const) {
  test(`${name}: when the server drops the socket, the page reconnects and shows each line once`, { timeout: 60_000 }, async () => {
    // max-frame=1k: a larger message makes the server drop the socket (1009), as a proxy or a restart would.
    const pb = await startPtyb(['-v', ...args, `ws-listen:0?token=${TOKEN}&max-frame=1k`]);
    const browser = await launch();
    try {
      const page = await openTab(browser, `http://127.0.0.1:${pb.listening[0]!.port}/?token=${TOKEN}`);
      const pid = await shellPid(page, 'before');
      for (let i = 1; i <= 5; i++) await type(page, `echo line-$((${i}*11))\n`);
      await waitForScreen(page, /^line-55$/m);
      await page.evaluate(() => (window as unknown as { ptybridge: { socket(): WebSocket } }).ptybridge.socket().send(new Uint8Array(4096)));
      await page.waitForSelector('#status.disconnected');
      await page.waitForSelector('#status.connected');
      await type(page, 'echo after-$((6*11))\n');
      await waitForScreen(page, /^after-66$/m);
      assert.equal(await shellPid(page, 'after'), pid, 'the same shell');
      const text = await screen(page);
      for (let i = 1; i <= 5; i++) assert.equal(text.match(new RegExp(`^line-${i * 11}$`, 'gm'))?.length, 1, `line-${i * 11} once:\n${text}`);
    } finally {
      await browser.close();
      await pb.stop();
    }
  });
}

test('a reload whose new socket arrives before the old one closes gets the same shell, not a second one', { timeout: 60_000 }, async () => {
  const pb = await startPtyb(['-v', SHELL, `ws-listen:0?token=${TOKEN}`]);
  const port = pb.listening[0]!.port;
  const protocols = ['ptybridge', `ptybridge-token.${Buffer.from(TOKEN).toString('base64url')}`];
  const open = (session: string) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/?session=${session}`, protocols);
    let text = '';
    let id = '';
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (isBinary) text += data.toString('latin1');
      else if (JSON.parse(data.toString()).type === 'session') id = JSON.parse(data.toString()).id;
    });
    return { ws, text: () => text, id: () => id, opened: once(ws, 'open') };
  };
  const first = open('');
  const second = { ws: undefined as WebSocket | undefined };
  try {
    await first.opened;
    await until(() => first.id());
    first.ws.send(Buffer.from('export X=42; echo "set-$X"\n'));
    await until(() => /set-42/.test(first.text()), { what: 'set-42 from the first socket' });
    // The new page's socket is open before the old page's socket closes.
    const again = open(first.id());
    second.ws = again.ws;
    await again.opened;
    first.ws.close();
    again.ws.send(Buffer.from('echo "got-$X"\n'));
    await until(() => /got-\d*\r?\n/.test(again.text()), { what: 'the echo on the second socket', detail: () => JSON.stringify(again.text()) });
    assert.match(again.text(), /got-42/, 'the same shell: X is still set');
    assert.equal(again.id(), '', 'no new session was made');
  } finally {
    first.ws.close();
    second.ws?.close();
    await pb.stop();
  }
});

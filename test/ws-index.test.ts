// The console index in Chromium: a filter box, keyboard moves, and live state (device lost, peers) without a reload.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, startPtyb } from './helpers/ptyb.js';
import { startFakeVm, type FakeVm } from './helpers/devices.js';
import { openPeer, TOKEN, wsUrl } from './helpers/ws.js';

const dir = mkdtempSync(join(tmpdir(), 'ptyb-index-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('index: filter by any word, j/k/arrows and Enter open a console, state and peers change live without a reload', { timeout: 60_000 }, async () => {
  const names = ['alpha', 'bravo', 'charlie'];
  const vms: Record<string, FakeVm> = {};
  for (const n of names) vms[n] = await startFakeVm(join(dir, n));
  const port = await freePort();
  const file = join(dir, 'c.yaml');
  writeFileSync(
    file,
    `version: 1\nroutes:\n${names.map((n) => `  - { name: ${n}, left: "pty:${join(dir, n)}", right: "ws-listen:${port}/console/${n}?token=${TOKEN}" }\n`).join('')}`,
  );
  const pb = await startPtyb(['--config', file], { listeners: 3 });
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
  });
  const peers: { close(): void }[] = [];
  try {
    const page = await browser.newPage();
    await page.goto(wsUrl(port, '/', 'http'));
    await page.waitForSelector('#live:text("live")');
    const shown = () => page.locator('#consoles tbody tr:visible td:first-child').allInnerTexts();
    assert.deepEqual(await shown(), names);

    // Filter: every word must match somewhere in the row.
    await page.keyboard.press('/');
    await page.keyboard.type('rav');
    assert.deepEqual(await shown(), ['bravo']);
    assert.equal(await page.locator('#count').innerText(), '1 of 3 consoles');
    await page.keyboard.press('Escape');
    assert.deepEqual(await shown(), names);
    await page.keyboard.type('/open char');
    assert.deepEqual(await shown(), ['charlie']);
    await page.keyboard.press('Escape');

    // Live: a peer joins alpha, charlie's VM powers off; the page shows both without a reload.
    await page.evaluate(() => ((window as unknown as { marker: number }).marker = 1));
    peers.push(await openPeer(`ws://127.0.0.1:${port}/console/alpha?token=${TOKEN}`));
    await vms.charlie!.quit();
    await page.waitForSelector('tr[data-path="/console/charlie"] td.lost:text("lost")');
    await page.waitForSelector('tr[data-path="/console/alpha"] td:text("1 peer")');
    assert.equal(await page.evaluate(() => (window as unknown as { marker?: number }).marker), 1, 'the same page, not reloaded');
    await page.keyboard.type('/lost');
    assert.deepEqual(await shown(), ['charlie']);
    await page.keyboard.press('Escape');

    // Keyboard: j, j, k moves the selection; Enter opens the selected console.
    await page.keyboard.press('j');
    await page.keyboard.press('j');
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('k');
    assert.equal(await page.locator('tr.sel td:first-child').innerText(), 'bravo');
    await page.keyboard.press('Enter');
    await page.waitForSelector('#status.connected');
    assert.equal(new URL(page.url()).pathname, '/console/bravo');
  } finally {
    peers.forEach((p) => p.close());
    await browser.close();
    await pb.stop();
    await Promise.all(Object.values(vms).map((v) => v.quit()));
  }
});

// What a newcomer sees in the browser at 1× pixel ratio (issue 23): underscores drawn, a favicon, noVNC by the printed URL.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser } from 'playwright-core';
import { launch, waitForScreen } from './helpers/browser.js';
import { brightInRow, decodePng } from './helpers/png.js';
import { startPtyb } from './helpers/ptyb.js';
import { openWs, withToken, wsUrl } from './helpers/ws.js';

/** Opens the terminal page at device pixel ratio 1, with a plain ws client as the device; runs `body`. */
async function withPage(body: (page: import('playwright-core').Page, send: (s: string) => void) => Promise<void>, width = 800): Promise<void> {
  const pb = await startPtyb([withToken('ws-listen:0'), withToken('ws-listen:0')], { listeners: 2 });
  let browser: Browser | undefined;
  try {
    browser = await launch();
    const [left, right] = pb.listening;
    const device = await openWs(wsUrl(right!.port));
    const page = await browser.newPage({ viewport: { width, height: 400 }, deviceScaleFactor: 1 });
    await page.goto(wsUrl(left!.port, '/', 'http'));
    await page.waitForSelector('#status.connected');
    await body(page, (s) => device.send(Buffer.from(s)));
    device.close();
  } finally {
    await browser?.close();
    await pb.stop();
  }
}

test('an underscore is drawn inside its row at device pixel ratio 1 (DejaVu Sans Mono clipped it below the cell)', { timeout: 90_000 }, async (t) => {
  // 14 px on a desktop, 12 px on a phone-wide page.
  for (const width of [800, 500]) await t.test(`${width} px wide`, () => withPage(async (page, send) => {
    // Row 1 holds only underscores, row 2 only spaces: the underscore's pixels must be in row 1's box.
    send('\x1b[2J\x1b[H' + '_'.repeat(40) + '\r\n\r\nend');
    await waitForScreen(page, /^_{40}\n\nend/);
    const box = await page.locator('.xterm-rows > div').first().boundingBox();
    assert.ok(box, 'the first row of the terminal');
    const shot = decodePng(await page.screenshot({ clip: { x: box.x, y: box.y, width: box.width, height: box.height } }));
    const lit = Array.from({ length: shot.height }, (_, y) => brightInRow(shot, y));
    // A row of 40 underscores is one long bright line: at least 40 cells' worth of half-width strokes.
    const cellWidth = box.width / (await page.evaluate(() => (window as unknown as { ptybridge: { term: { cols: number } } }).ptybridge.term.cols));
    assert.ok(Math.max(...lit) >= Math.floor(40 * cellWidth * 0.5), `bright pixels per pixel row of the underscore row (${shot.width}x${shot.height}, cell ${cellWidth.toFixed(1)} px): ${lit.join(' ')}`);
  }, width));
});

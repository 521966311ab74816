// The page's history view in headless Chromium: the time line dragged to a mark shows the early boot screen, search lands on a match, copy and download are exact, a view token reads it and the view sends no input; the page's mark button marks the file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { launch } from './helpers/browser.js';
import { sha256, startPtyb } from './helpers/ptyb.js';
import { until } from './helpers/until.js';
import { TOKEN } from './helpers/ws.js';

const VIEW = 'history-web-view-token';

type Ev = [number, string, string];

function castOf(dir: string): { name: string; events: Ev[] } {
  const name = readdirSync(dir).find((n) => n.endsWith('.cast'))!;
  const lines = readFileSync(join(dir, name), 'utf8').split('\n').slice(1, -1);
  return { name, events: lines.map((l) => JSON.parse(l) as Ev) };
}

/** The history view's screen rows (its xterm.js buffer, the visible part), as text. */
function historyRows(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    type B = { length: number; viewportY: number; getLine(i: number): { translateToString(trim: boolean): string } | undefined };
    const t = (window as unknown as { ptybridgeHistory: { term: { rows: number; buffer: { active: B } } } }).ptybridgeHistory.term;
    const b = t.buffer.active;
    const rows: string[] = [];
    for (let i = 0; i < t.rows; i++) rows.push(b.getLine(b.viewportY + i)?.translateToString(true) ?? '');
    return rows;
  });
}

/** Waits until the view shows `position` with every event up to it parsed. */
async function settled(page: Page, position: string): Promise<void> {
  await page.waitForFunction((p) => {
    const h = document.getElementById('history')!;
    return h.dataset.state === 'ready' && h.dataset.position === p;
  }, position);
}

/** Drags the time line's cursor from its right end to the middle of `tick`. */
async function dragTo(page: Page, tick: string): Promise<string> {
  const line = (await page.locator('#history-line').boundingBox())!;
  const box = (await page.locator(tick).boundingBox())!;
  const y = line.y + line.height / 2;
  await page.mouse.move(line.x + line.width - 1, y);
  await page.mouse.down();
  await page.mouse.move(box.x + box.width / 2, y, { steps: 8 });
  await page.mouse.up();
  return (await page.locator(tick).getAttribute('data-position'))!;
}

test('the history view: drag to the boot banner, search, copy, download, read-only with a view token; the mark button', { timeout: 120_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ptyb-history-web-'));
  const hist = join(dir, 'h');
  const go = join(dir, 'GO');
  const script = join(dir, 'boot.sh');
  // A board: its banner a second after power-on, the kernel once the test has seen the banner's mark.
  writeFileSync(
    script,
    [
      'sleep 1',
      "printf 'U-Boot 2024.01 (Dec 06 2026)\\r\\nDRAM:  512 MiB\\r\\n'",
      `while test ! -e ${go}; do sleep 0.1; done`,
      'sleep 1',
      "printf 'Starting kernel ...\\r\\nLinux version 6.1.0-test (gcc 12)\\r\\nWelcome\\r\\nlogin: '",
      'sleep 1000',
    ].join('\n'),
  );
  const pb = await startPtyb([
    '-v',
    `exec:sh ${script}?share&log-input&history=${hist}&mark=U-Boot 20\\d\\d`,
    `ws-listen:127.0.0.1:0/board?token=${TOKEN}&view-token=${VIEW}`,
  ]);
  let browser: Browser | undefined;
  try {
    const port = pb.listening[0]!.port;
    await until(() => existsSync(hist) && castOf(hist).events.some((e) => e[2] === 'mark: U-Boot 2024'), { what: 'the banner mark' });
    writeFileSync(go, '');
    await until(() => castOf(hist).events.some((e) => e[1] === 'o' && e[2].includes('login: ')), { what: 'the login prompt recorded' });

    // The view token's credential reads the list (which names the console as keeping a history) and the files.
    const viewAuth = { Authorization: `Bearer ${VIEW}` };
    const listed = (await (await fetch(`http://127.0.0.1:${port}/api/consoles`, { headers: viewAuth })).json()) as { role: string; history: string[] };
    assert.equal(listed.role, 'view');
    assert.deepEqual(listed.history, ['board']);
    const files = await fetch(`http://127.0.0.1:${port}/api/consoles/board/history/${castOf(hist).name}`, { headers: viewAuth });
    assert.equal(files.status, 200);
    await files.arrayBuffer();

    browser = await launch();
    const context = await browser.newContext({ viewport: { width: 1000, height: 700 }, deviceScaleFactor: 1, acceptDownloads: true });
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: `http://127.0.0.1:${port}` });
    const page = await context.newPage();
    // Every binary frame the page sends is input: the history view must send none.
    const input: Buffer[] = [];
    page.on('websocket', (ws) => ws.on('framesent', (f) => typeof f.payload !== 'string' && input.push(f.payload)));
    // A view token: it watches, and may read the history.
    await page.goto(`http://127.0.0.1:${port}/board#token=${VIEW}`);
    await page.locator('#badge.read-only').waitFor();
    await page.locator('#history-open').click();
    const end = String(castOf(hist).events.length);
    await settled(page, end);
    const boot = ['U-Boot 2024.01 (Dec 06 2026)', 'DRAM:  512 MiB'];
    assert.deepEqual(await historyRows(page), [
      ...boot,
      'Starting kernel ...',
      'Linux version 6.1.0-test (gcc 12)',
      'Welcome',
      'login: ',
      ...Array(18).fill(''),
    ]);

    // The boot mark: nothing printed yet.
    await settled(page, await dragTo(page, '#history-line .tick.boot'));
    assert.deepEqual(await historyRows(page), Array(24).fill(''));
    // The banner's ?mark: the early boot screen, exactly, and nothing of the kernel yet.
    const atBanner = await dragTo(page, '#history-line .tick.match');
    await settled(page, atBanner);
    assert.deepEqual(await historyRows(page), [...boot, ...Array(22).fill('')]);

    // Copy from the banner's mark to the end: the text printed in between.
    await page.locator('#history-from').click();
    await page.locator('#history-line').focus();
    await page.keyboard.press('End');
    await settled(page, end);
    await page.locator('#history-to').click();
    await page.locator('#history-copy').click();
    const copied = 'Starting kernel ...\nLinux version 6.1.0-test (gcc 12)\nWelcome\nlogin: \n';
    await page.waitForFunction((t) => document.getElementById('history')!.dataset.copied === t, copied);
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), copied);

    // Search from the banner: lands on the kernel's line, and the time line moves there.
    await dragTo(page, '#history-line .tick.match');
    await settled(page, atBanner);
    await page.locator('#history-search').fill('linux VERSION');
    await page.locator('#history-search').press('Enter');
    await page.locator('#history-found', { hasText: '1 of 1' }).waitFor();
    const found = (await page.locator('#history-line .tick.found.current').getAttribute('data-position'))!;
    await settled(page, found);
    const rows = await historyRows(page);
    assert.ok(rows.includes('Linux version 6.1.0-test (gcc 12)'), rows.join('\n'));
    assert.equal(
      await page.locator('#history-line .cursor').evaluate((e) => (e as HTMLElement).style.left),
      await page.locator('#history-line .tick.found.current').evaluate((e) => (e as HTMLElement).style.left),
    );

    // Download: the .cast's exact bytes.
    const [download] = await Promise.all([page.waitForEvent('download'), page.locator('#history-download').click()]);
    assert.equal(download.suggestedFilename(), castOf(hist).name);
    assert.equal(sha256(readFileSync((await download.path())!)), sha256(readFileSync(join(hist, castOf(hist).name))));

    // Play at max from the start: it runs to the last moment and stops there.
    await page.locator('#history-speed').selectOption('max');
    await page.locator('#history-line').focus();
    await page.keyboard.press('Home');
    await settled(page, '0');
    await page.locator('#history-play').click();
    await settled(page, end);
    await page.locator('#history-play', { hasText: '▶' }).waitFor();
    assert.deepEqual((await historyRows(page)).slice(0, 6), [...boot, 'Starting kernel ...', 'Linux version 6.1.0-test (gcc 12)', 'Welcome', 'login: ']);

    // Keys typed anywhere in the view go nowhere.
    await page.locator('#history-term').click();
    await page.keyboard.type('reboot\r');
    await page.locator('#history-line').focus();
    await page.keyboard.type('x\r');
    // Back to live, one click.
    await page.locator('#history-live').click();
    assert.equal(await page.locator('#history').isHidden(), true);
    // Open again, nothing new recorded: the same moment is shown; back to live with the history button.
    const shown = await page.locator('#history').getAttribute('data-position');
    await page.locator('#history-open').click();
    await settled(page, shown!);
    await page.locator('#history-open').click();
    assert.equal(await page.locator('#history').isHidden(), true);
    assert.deepEqual(input, [], 'the page sent input');
    assert.ok(!castOf(hist).events.some((e) => e[1] === 'i'), 'the device got input');
    // The live terminal takes keys again (what the frames above would have caught; the view token's input is dropped by the hub).
    await page.locator('#term').click();
    await page.keyboard.type('q');
    await until(() => input.length > 0, { what: 'the live terminal sending a key' });

    // The page's mark button (a full token: the typing one): an "m" event in the file.
    const typist = await context.newPage();
    await typist.goto(`http://127.0.0.1:${port}/board#token=${TOKEN}`);
    await typist.locator('#mark').click();
    await until(() => castOf(hist).events.some((e) => e[1] === 'm' && /^mark by .+: mark$/.test(e[2])), { what: "the page's mark in the file" });
    await context.close();
  } finally {
    await browser?.close();
    await pb.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a console without a history: no history or mark button, the page works as before', { timeout: 60_000 }, async () => {
  const pb = await startPtyb(['-v', `exec:sh -c "echo no history here; sleep 100"?share`, `ws-listen:127.0.0.1:0/plain?token=${TOKEN}`]);
  let browser: Browser | undefined;
  try {
    browser = await launch();
    const page = await browser.newPage({ viewport: { width: 800, height: 500 }, deviceScaleFactor: 1 });
    // The page asks the API's list which consoles keep a history, and nothing that fails.
    const failed: string[] = [];
    page.on('response', (r) => r.status() >= 400 && failed.push(`${r.status()} ${r.url()}`));
    const answered = page.waitForResponse((r) => r.url().endsWith('/api/consoles'));
    await page.goto(`http://127.0.0.1:${pb.listening[0]!.port}/plain#token=${TOKEN}`);
    const list = await answered;
    assert.equal(list.status(), 200);
    assert.deepEqual(Object.keys(await list.json()).sort(), ['boots', 'consoles', 'role']);
    await page.locator('#status.connected').waitFor();
    assert.deepEqual(failed, []);
    assert.equal(await page.locator('#history-open').count(), 0);
    assert.equal(await page.locator('#mark').count(), 0);
  } finally {
    await browser?.close();
    await pb.stop();
  }
});

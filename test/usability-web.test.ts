// What a newcomer sees in the browser at 1× pixel ratio (issue 23): underscores drawn, a favicon, noVNC by the printed URL.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser } from 'playwright-core';
import { launch, waitForScreen } from './helpers/browser.js';
import { brightInRow, decodePng } from './helpers/png.js';
import { existsSync } from 'node:fs';
import { until } from './helpers/devices.js';
import { startPtyb, tcpServer } from './helpers/ptyb.js';
import { openWs, rawGet, rawUpgrade, TOKEN, withToken, wsUrl } from './helpers/ws.js';

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
  for (const width of [800, 500])
    await t.test(`${width} px wide`, () =>
      withPage(async (page, send) => {
        // Row 1 holds only underscores, row 2 only spaces: the underscore's pixels must be in row 1's box.
        send('\x1b[2J\x1b[H' + '_'.repeat(40) + '\r\n\r\nend');
        await waitForScreen(page, /^_{40}\n\nend/);
        const box = await page.locator('.xterm-rows > div').first().boundingBox();
        assert.ok(box, 'the first row of the terminal');
        const shot = decodePng(await page.screenshot({ clip: { x: box.x, y: box.y, width: box.width, height: box.height } }));
        const lit = Array.from({ length: shot.height }, (_, y) => brightInRow(shot, y));
        // A row of 40 underscores is one long bright line: at least 40 cells' worth of half-width strokes.
        const cellWidth = box.width / (await page.evaluate(() => (window as unknown as { ptybridge: { term: { cols: number } } }).ptybridge.term.cols));
        assert.ok(
          Math.max(...lit) >= Math.floor(40 * cellWidth * 0.5),
          `bright pixels per pixel row of the underscore row (${shot.width}x${shot.height}, cell ${cellWidth.toFixed(1)} px): ${lit.join(' ')}`,
        );
      }, width),
    );
});

test('the terminal fills the page below the bar and follows the bar when it grows (a fixed box, not a flex item)', { timeout: 90_000 }, async (t) => {
  for (const width of [800, 500])
    await t.test(`${width} px wide`, () =>
      withPage(async (page) => {
        const layout = () =>
          page.evaluate(() => {
            const bar = document.getElementById('bar')!.getBoundingClientRect();
            const screen = document.querySelector('.xterm-screen')!.getBoundingClientRect();
            const term = (window as unknown as { ptybridge: { term: { rows: number } } }).ptybridge.term;
            return { barBottom: bar.bottom, top: screen.top, bottom: screen.bottom, cell: screen.height / term.rows, rows: term.rows, height: innerHeight };
          });
        const before = await layout();
        // Below the bar (2 px of padding), and down to the window's bottom less than a row.
        assert.ok(before.top >= before.barBottom && before.top <= before.barBottom + 3, JSON.stringify(before));
        assert.ok(before.bottom <= before.height && before.height - before.bottom < before.cell + 3, JSON.stringify(before));
        // The bar grows (buttons, a narrow window wrapping it): the terminal moves down and loses rows.
        await page.evaluate(() => (document.getElementById('bar')!.style.height = '80px'));
        await until(
          async () => {
            const l = await layout();
            return l.top >= 80 && l.rows < before.rows;
          },
          { timeout: 30_000, what: 'the terminal below the taller bar, with fewer rows', detail: async () => JSON.stringify(await layout()) },
        );
        const after = await layout();
        assert.ok(after.top <= after.barBottom + 3 && after.bottom <= after.height, JSON.stringify(after));
        assert.ok(after.rows < before.rows, `rows ${before.rows} → ${after.rows}`);
      }, width),
    );
});

/**
 * A VNC server's side of the RFB 3.8 handshake, up to ServerInit (no security, a 64x48
 * screen named `name`): what the client sent is in `got`.
 */
async function fakeVnc(name: string): Promise<{ port: number; got: () => string; close(): Promise<void> }> {
  let got = Buffer.alloc(0);
  const server = await tcpServer((s) => {
    s.write('RFB 003.008\n');
    let step = 0;
    s.on('data', (c: Buffer) => {
      got = Buffer.concat([got, c]);
      if (step === 0 && got.length >= 12)
        (step = 1), s.write(Buffer.from([1, 1])); // one security type: None
      else if (step === 1 && got.length >= 13)
        (step = 2), s.write(Buffer.from([0, 0, 0, 0])); // SecurityResult OK
      else if (step === 2 && got.length >= 14) {
        step = 3; // ServerInit: 64x48, 32 bpp true colour, the name
        const init = Buffer.from([0, 64, 0, 48, 32, 24, 0, 1, 0, 255, 0, 255, 0, 255, 16, 8, 0, 0, 0, 0]);
        const len = Buffer.alloc(4);
        len.writeUInt32BE(name.length);
        s.write(Buffer.concat([init, len, Buffer.from(name)]));
      }
    });
    s.on('error', () => {});
  });
  return { port: server.port, got: () => got.toString('latin1'), close: server.close };
}

test('noVNC in ?static: the printed URL is its vnc.html, with the token in its path=; it connects; / goes there, not to a terminal', {
  timeout: 90_000,
}, async (t) => {
  if (!existsSync('/usr/share/novnc/vnc.html')) return t.skip("Debian's novnc is not installed (.ci/run installs it)");
  const vnc = await fakeVnc('fake-vnc-23');
  const pb = await startPtyb(['ws-listen:0/websockify?static=/usr/share/novnc', `tcp:127.0.0.1:${vnc.port}`]);
  let browser: Browser | undefined;
  try {
    const port = pb.listening[0]!.port;
    const printed = /: open (http:\/\/127\.0\.0\.1:(\d+)\/vnc\.html\?token=([\w-]+)&path=websockify%3Ftoken%3D([\w-]+)&autoconnect=true)$/m.exec(pb.stderr());
    assert.ok(printed, pb.stderr());
    assert.equal(Number(printed[2]), port);
    assert.equal(printed[3], printed[4], 'the same token for the page and its socket');
    browser = await launch();
    const page = await browser.newPage({ viewport: { width: 800, height: 600 }, deviceScaleFactor: 1 });
    await page.goto(printed[1]!);
    await page.waitForFunction(() => /Connected \(unencrypted\) to:? ?fake-vnc-23/.test(document.getElementById('noVNC_status')?.textContent ?? ''), null, {
      timeout: 30_000,
    });
    assert.equal(vnc.got().slice(0, 12), 'RFB 003.008\n', "the VNC server got noVNC's version, through ptybridge");
    // The console index would link a terminal on /websockify: both go to noVNC instead.
    const token = printed[3]!;
    for (const p of ['/', '/websockify']) {
      const r = await rawGet(port, `${p}?token=${token}`);
      assert.equal(r.status, 302, `${p}: ${r.body}`);
      assert.equal(r.headers.location, 'vnc.html?path=websockify&autoconnect=true', p);
    }
    await page.goto(`http://127.0.0.1:${port}/`); // by the session cookie
    assert.equal(new URL(page.url()).pathname, '/vnc.html');
  } finally {
    await browser?.close();
    await pb.stop();
    await vnc.close();
  }
});

test('the terminal page on a route to a VNC server says what it is, instead of showing "RFB 003.008" as text', { timeout: 60_000 }, async () => {
  const vnc = await fakeVnc('x');
  const pb = await startPtyb([withToken('ws-listen:0'), `tcp:127.0.0.1:${vnc.port}`]);
  let browser: Browser | undefined;
  try {
    browser = await launch();
    const page = await browser.newPage({ viewport: { width: 1000, height: 400 }, deviceScaleFactor: 1 });
    await page.goto(wsUrl(pb.listening[0]!.port, '/', 'http'));
    const text = await waitForScreen(page, /not a terminal/);
    assert.match(text, /^ptybridge: the far side of this route said "RFB 003\.008": it is a VNC server: open it with noVNC/);
    await page.waitForSelector('#status.disconnected');
    assert.equal(await page.locator('#status').textContent(), 'not a terminal');
  } finally {
    await browser?.close();
    await pb.stop();
    await vnc.close();
  }
});

test('a WebSocket refused by its Origin is said at the default level, with the ?origin= to add, once a minute per Origin', { timeout: 30_000 }, async () => {
  const pb = await startPtyb([withToken('ws-listen:0'), 'tcp:127.0.0.1:9']);
  try {
    const port = pb.listening[0]!.port;
    for (let i = 0; i < 5; i++) {
      assert.equal(await rawUpgrade(port, `/?token=${TOKEN}`, { Host: `127.0.0.1:${port}`, Origin: 'http://127.0.0.1:8000' }), 403);
    }
    assert.equal(await rawUpgrade(port, `/?token=${TOKEN}`, { Host: `127.0.0.1:${port}`, Origin: 'http://novnc.example' }), 403);
    await until(() => pb.stderr().includes('novnc.example'));
    const lines = pb
      .stderr()
      .split('\n')
      .filter((l) => l.includes('refused'));
    const uri = `ws-listen:0?token=…`;
    assert.deepEqual(lines, [
      `ptybridge: ${uri}: refused a WebSocket from a page at http://127.0.0.1:8000 (403 origin not allowed); to let pages from there in, add ?origin=http://127.0.0.1:8000`,
      `ptybridge: ${uri}: refused a WebSocket from a page at http://novnc.example (403 origin not allowed); to let pages from there in, add ?origin=http://novnc.example`,
    ]);
  } finally {
    await pb.stop();
  }
});

test("every page has an icon: /favicon.ico and the pages' own are answered, no 404 on a page load", { timeout: 60_000 }, async () => {
  const pb = await startPtyb([withToken('ws-listen:0/a'), 'tcp:127.0.0.1:9']);
  let browser: Browser | undefined;
  try {
    const port = pb.listening[0]!.port;
    for (const p of ['/favicon.ico', '/_ptybridge/favicon.svg', '/a/_ptybridge/favicon.svg']) {
      const r = await rawGet(port, `${p}?token=${TOKEN}`);
      assert.equal(r.status, 200, p);
      assert.equal(r.headers['content-type'], 'image/svg+xml', p);
      assert.match(r.body, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/, p);
    }
    browser = await launch();
    const page = await browser.newPage({ deviceScaleFactor: 1 });
    const failed: string[] = [];
    page.on('response', (r) => r.status() >= 400 && failed.push(`${r.status()} ${r.url()}`));
    for (const p of ['/', '/a']) {
      await page.goto(wsUrl(port, p, 'http'));
      const icon = await page.locator('link[rel=icon]').getAttribute('href');
      assert.equal(icon, '_ptybridge/favicon.svg', p);
      const r = await page.request.get(new URL(icon!, page.url()).href);
      assert.equal(r.status(), 200, p);
    }
    assert.deepEqual(failed, []);
  } finally {
    await browser?.close();
    await pb.stop();
  }
});

// The bundled browser terminal in headless Chromium: it connects, types, shows output and sends resizes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { launch, waitForScreen } from './helpers/browser.js';
import { ROOT, runPtyb, startPtyb } from './helpers/ptyb.js';
import { openWs, TOKEN, withToken, wsUrl } from './helpers/ws.js';
import { until } from './helpers/until.js';

const OUT = path.join(ROOT, 'test-output');

const termSize = (page: Page) =>
  page.evaluate(() => {
    const t = (window as unknown as { ptybridge: { term: { cols: number; rows: number } } }).ptybridge.term;
    return { cols: t.cols, rows: t.rows };
  });

const hasExec = async () => /\bexec:/.test((await runPtyb(['--help'])).stdout.toString());

test('browser terminal: a shell behind ws-listen, opened by the URL it prints; typing, output, resize reaching stty size, a reload by the token the tab kept', async (t) => {
  if (!(await hasExec())) return t.skip('exec: is not in this build yet');
  mkdirSync(OUT, { recursive: true });
  const pb = await startPtyb(['exec:sh', 'ws-listen:0']);
  const browser = await launch();
  try {
    // What a newcomer does: open the URL ptybridge printed, token and all.
    const printed = /open (http:\/\/127\.0\.0\.1:(\d+)\/#token=\S+)$/m.exec(pb.stderr());
    assert.ok(printed, pb.stderr());
    assert.equal(Number(printed[2]), pb.listening[0]!.port);
    const page = await browser.newPage({ viewport: { width: 900, height: 600 } });
    await page.goto(printed[1]!);
    await page.waitForSelector('#status.connected');
    assert.equal(page.url(), `http://127.0.0.1:${pb.listening[0]!.port}/`, 'the token left the address bar');
    // A reload has no token in its URL: the tab's sessionStorage has it, and the page presents it on its socket.
    await page.reload();
    await page.waitForSelector('#status.connected');
    const n = Math.floor(Math.random() * 1e6);
    await page.locator('.xterm').click();
    await page.keyboard.type(`echo hello-$((${n}+1))\n`);
    await waitForScreen(page, new RegExp(`^hello-${n + 1}$`, 'm'));
    await page.setViewportSize({ width: 420, height: 700 });
    const size = await until(
      async () => {
        const s = await termSize(page);
        return s.cols <= 60 ? s : undefined;
      },
      { timeout: 15_000, step: 50, what: 'the terminal to fit a 420 px wide page (60 columns or fewer)' },
    );
    await page.keyboard.type('stty size\n');
    await waitForScreen(page, new RegExp(`^${size.rows} ${size.cols}$`, 'm'));
    await page.screenshot({ path: path.join(OUT, 'web-terminal-exec.png') });
  } finally {
    await browser.close();
    await pb.stop();
  }
});

test('browser terminal page: loads with no CDN, connects, bytes both ways, resize sent as a control, reconnects', async () => {
  mkdirSync(OUT, { recursive: true });
  // Rendezvous: the page on the left listener, a plain ws client standing in for the device on the right.
  const pb = await startPtyb([withToken('ws-listen:0'), withToken('ws-listen:0')], { listeners: 2 });
  const browser = await launch();
  try {
    const [left, right] = pb.listening;
    const device = await openWs(wsUrl(right!.port));
    const fromPage: Buffer[] = [];
    const controls: { type: string; cols: number; rows: number }[] = [];
    device.on('message', (d: Buffer, isBinary: boolean) => (isBinary ? fromPage.push(d) : controls.push(JSON.parse(d.toString()))));
    const page = await browser.newPage({ viewport: { width: 900, height: 600 } });
    const requests: string[] = [];
    page.on('request', (r) => requests.push(r.url()));
    await page.goto(wsUrl(left!.port, '/', 'http'));
    await page.waitForSelector('#status.connected');
    assert.ok(
      requests.every((u) => u.startsWith(`http://127.0.0.1:${left!.port}/`) || u.startsWith(`ws://127.0.0.1:${left!.port}/`)),
      `only its own server: ${requests.join(' ')}`,
    );

    device.send(Buffer.from('\x1b[1mptybridge\x1b[0m web terminal: hello-from-the-device\r\n$ '));
    await waitForScreen(page, /web terminal: hello-from-the-device/);
    await page.locator('.xterm').click();
    await page.keyboard.type('echo typed\n');
    await until(() => Buffer.concat(fromPage).toString().includes('echo typed\r'), {
      timeout: 15_000,
      what: 'the typed line at the device',
      detail: () => JSON.stringify(Buffer.concat(fromPage).toString()),
    });
    assert.equal(Buffer.concat(fromPage).toString(), 'echo typed\r');

    // The first resize comes on connect; a phone-sized viewport brings a smaller one.
    assert.ok(controls.length >= 1 && controls[0]!.type === 'resize', JSON.stringify(controls));
    await page.setViewportSize({ width: 380, height: 640 });
    await until(() => controls.at(-1)!.cols < 60, { timeout: 15_000, what: 'a resize under 60 columns', detail: () => JSON.stringify(controls) });
    const last = controls.at(-1)!;
    assert.deepEqual(last, { type: 'resize', ...(await termSize(page)) });
    assert.ok(last.cols < 60, `phone-sized: ${JSON.stringify(last)}`);
    await page.screenshot({ path: path.join(OUT, 'web-terminal.png') });

    // The device side goes away: the page says so, and reconnects when a new device peer comes.
    device.close();
    await page.waitForSelector('#status.disconnected');
    const again = await openWs(wsUrl(right!.port));
    await page.waitForSelector('#status.connected', { timeout: 30_000 });
    again.send(Buffer.from('\r\nback again\r\n'));
    await waitForScreen(page, /back again/);
    again.close();
  } finally {
    await browser.close();
    await pb.stop();
  }
});

test('DNS rebinding in Chromium: attacker.example resolved to 127.0.0.1 gets 403 for the page, and its socket is refused, token or not', async () => {
  const pb = await startPtyb([withToken('ws-listen:0'), 'tcp:127.0.0.1:9']);
  // The browser resolves attacker.example to loopback, as a rebinding DNS server would make it.
  const browser = await launch(['--host-resolver-rules=MAP attacker.example 127.0.0.1']);
  try {
    const port = pb.listening[0]!.port;
    const page = await browser.newPage();
    const refused = await page.goto(`http://attacker.example:${port}/?token=${TOKEN}`);
    assert.equal(refused?.status(), 403);
    assert.match(await page.content(), /host not allowed/);
    // A script of the attacker's origin (here: the 403 page's, same host and port) cannot
    // open the socket either; the same server by a loopback name serves the page.
    const opened = await page.evaluate(
      ([p, token]) =>
        new Promise<string>((resolve) => {
          const ws = new WebSocket(`ws://attacker.example:${p}/?token=${token}`);
          ws.onopen = () => resolve('open');
          ws.onerror = () => resolve('refused');
        }),
      [port, TOKEN] as const,
    );
    assert.equal(opened, 'refused');
    const ok = await page.goto(`http://localhost:${port}/?token=${TOKEN}`);
    assert.equal(ok?.status(), 200);
  } finally {
    await browser.close();
    await pb.stop();
  }
});

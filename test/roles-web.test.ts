// The keyboard in the browser: two pages (alice, bob) on one exclusive pty hub; the badge, the button, and the transcript naming both.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { launch } from './helpers/browser.js';
import { ROOT, startPtyb } from './helpers/ptyb.js';
import { startFakeVm, until } from './helpers/devices.js';

const OUT = path.join(ROOT, 'test-output');
const tmp = mkdtempSync(path.join(tmpdir(), 'ptyb-roles-web-'));
test.after(() => rmSync(tmp, { recursive: true, force: true }));

const hash = (token: string) => createHash('sha256').update(token).digest('hex');
const text = (page: Page, sel: string) => page.locator(sel).textContent();

test('browser: the badge says typing / watching, "take the keyboard" moves it between two pages, only the holder reaches the device, the transcript names both', async () => {
  mkdirSync(OUT, { recursive: true });
  const users = path.join(tmp, 'users');
  writeFileSync(users, `alice full ${hash('alice-secret')}\nbob full ${hash('bob-secret')}\n`);
  const log = path.join(tmp, 'web.log');
  const vm = await startFakeVm();
  const pb = await startPtyb(['-v', '--log', log, `pty:${vm.slave}?policy=exclusive`, `ws-listen:0?users=${users}`]);
  const port = pb.listening[0]!.port;
  let browser: Browser | undefined;
  try {
    browser = await launch();
    // Two people, two browsers (contexts): each keeps its own credential.
    const open = async (token: string) => {
      const page = await (await browser!.newContext({ viewport: { width: 900, height: 400 } })).newPage();
      await page.goto(`http://127.0.0.1:${port}/?token=${token}`);
      await page.waitForSelector('#status.connected');
      return page;
    };
    const alice = await open('alice-secret');
    await alice.waitForSelector('#badge.typing');
    assert.equal(await text(alice, '#holder'), 'you have the keyboard');
    const bob = await open('bob-secret');
    await bob.waitForSelector('#badge.watching');
    await until(() => pb.stderr().includes('(2 peers)'));
    assert.equal(await text(bob, '#holder'), 'alice has the keyboard');
    assert.equal(await text(bob, '#watching'), '1 watching');
    assert.equal(await text(bob, '#take'), 'take the keyboard');
    await bob.screenshot({ path: path.join(OUT, 'roles-watching.png') });

    // A watcher's keys go nowhere; the button moves the keyboard and the holder is told.
    await bob.locator('.xterm').click();
    await bob.keyboard.type('bob-watching\r');
    await bob.click('#take');
    await bob.waitForSelector('#badge.typing');
    await alice.waitForSelector('#badge.watching');
    assert.equal(await text(alice, '#holder'), 'bob has the keyboard');
    await bob.keyboard.type('from-bob\r');
    await vm.waitReceived('from-bob\r');
    await alice.locator('.xterm').click();
    await alice.keyboard.type('alice-watching\r');
    await alice.click('#take');
    await alice.waitForSelector('#badge.typing');
    await bob.waitForSelector('#badge.watching');
    await alice.keyboard.type('alice-again\r');
    await vm.waitReceived('alice-again\r');
    assert.equal(vm.received().toString(), 'from-bob\ralice-again\r', 'only the holder of the moment reached the device');
    await alice.screenshot({ path: path.join(OUT, 'roles-typing.png') });
  } finally {
    await browser?.close();
    await pb.stop();
    await vm.quit();
  }
  const transcript = readFileSync(log, 'utf8');
  assert.match(transcript, /--- ws 127\.0\.0\.1:\d+ \(alice\) connected \(1 peer\) ---\n/);
  assert.match(transcript, /--- ws 127\.0\.0\.1:\d+ \(bob\) connected \(2 peers\) ---\n/);
  assert.match(transcript, /--- bob took the keyboard from alice ---\n[\s\S]*--- alice took the keyboard from bob ---\n/);
});

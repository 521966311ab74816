// Flow control between the browser terminal and the server (ttyd's flowControl): floods from an exec: shell arrive whole in headless Chromium, fast or CPU-throttled, with the server's memory bounded; a page that pauses blocks the shell.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { launch, screenLines } from './helpers/browser.js';
import { MiB, rssBytes } from './helpers/load.js';
import { ROOT, startPtyb, type Running } from './helpers/ptyb.js';
import { until } from './helpers/until.js';
import { withToken, wsUrl } from './helpers/ws.js';

const FLOOD = path.join(ROOT, 'test/helpers/flood.py');
const ALPHABET = 'abcdefghijklmnopqrstuvwxyz'.repeat(5);

/** What test/helpers/flood.py writes after the key that starts it. */
function floodBytes(total: number): Buffer {
  const lines = Math.floor(total / 100);
  const parts: string[] = [];
  for (let i = 0; i < lines; i++) parts.push(`${String(i).padStart(8, '0')} ${ALPHABET.slice(i % 26, (i % 26) + 89)}\r\n`);
  parts.push(`END ${lines}\r\n`);
  return Buffer.from(parts.join(''), 'latin1');
}

/** FNV-1a, 32 bits: the page computes the same over what it hands to xterm.js (no SHA-256 that is incremental there). */
function fnv1a(bytes: Uint8Array): number {
  let h = 0x811c9dc5;
  for (const b of bytes) h = Math.imul(h ^ b, 0x01000193) >>> 0;
  return h;
}

type Tally = { count: number; hash: number; pauses: number; resumes: number };

/**
 * From now on the page tallies the bytes it hands to xterm.js (count and FNV-1a) and the
 * pause and resume controls it sends; `holdResumes` keeps its resumes back, as a page that
 * paused and never resumed.
 */
function watchPage(page: Page): Promise<void> {
  return page.evaluate(() => {
    type W = {
      ptybridge: { term: { write(d: Uint8Array | string, cb?: () => void): void }; socket(): WebSocket | undefined };
      tally: Tally;
      heldResumes: string[];
      holdResumes: boolean;
    };
    const w = window as unknown as W;
    w.tally = { count: 0, hash: 0x811c9dc5, pauses: 0, resumes: 0 };
    w.heldResumes = [];
    w.holdResumes = false;
    const term = w.ptybridge.term;
    const write = term.write.bind(term);
    term.write = (d: Uint8Array | string, cb?: () => void) => {
      if (typeof d !== 'string') {
        let h = w.tally.hash;
        for (let i = 0; i < d.length; i++) h = Math.imul(h ^ d[i]!, 0x01000193) >>> 0;
        w.tally.hash = h;
        w.tally.count += d.length;
      }
      write(d, cb);
    };
    const send = WebSocket.prototype.send;
    WebSocket.prototype.send = function (this: WebSocket, data: string | ArrayBufferLike | Blob | ArrayBufferView) {
      if (typeof data === 'string' && data === '{"type":"pause"}') w.tally.pauses++;
      if (typeof data === 'string' && data === '{"type":"resume"}') {
        if (w.holdResumes) return void w.heldResumes.push(data);
        w.tally.resumes++;
      }
      send.call(this, data);
    };
  });
}

const tally = (page: Page): Promise<Tally> => page.evaluate(() => (window as unknown as { tally: Tally }).tally);

/** Starts the flood's shell behind ws-listen and opens the page on it; resolves once the shell said ready. */
async function openFlood(browser: Browser, bytes: number, progress?: string): Promise<{ pb: Running; page: Page; pid: number }> {
  const pb = await startPtyb(['-v', `exec:python3 ${FLOOD} ${bytes}${progress ? ` ${progress}` : ''}`, withToken('ws-listen:0')]);
  const page = await browser.newPage({ viewport: { width: 1400, height: 800 }, deviceScaleFactor: 1 });
  await page.goto(wsUrl(pb.listening[0]!.port, '/', 'http'));
  await page.waitForSelector('#status.connected');
  await until(async () => (await screenLines(page)).includes('ready'), {
    what: 'the flood to say ready',
    detail: async () => (await screenLines(page)).join('\n'),
  });
  const pid = Number((await pb.logged(/exec python3 \(pid (\d+)\)/))[1]);
  await watchPage(page);
  return { pb, page, pid };
}

/** Waits until the page has handed all of `want` to xterm.js and its screen ends with it; the bytes must be exact. */
async function assertArrived(page: Page, want: Buffer, detail: () => string): Promise<void> {
  const lines = want.toString('latin1').split('\r\n').slice(0, -1);
  await until(async () => (await tally(page)).count >= want.length && (await screenLines(page)).includes(lines.at(-1)!), {
    timeout: 240_000,
    step: 250,
    what: `the page to take ${want.length} bytes and show "${lines.at(-1)}"`,
    detail: async () => `page: ${JSON.stringify(await tally(page))}\n${detail()}`,
  });
  const got = await tally(page);
  assert.equal(got.count, want.length, 'bytes handed to xterm.js');
  assert.equal(got.hash, fnv1a(want), 'FNV-1a of the bytes handed to xterm.js');
  // Parsed, not only handed over: the last lines of the buffer are the flood's.
  const shown = (await screenLines(page)).filter((l) => l !== '');
  assert.deepEqual(shown.slice(-40), lines.slice(-40));
}

/** Samples the process's RSS until `stop` resolves; resolves with the largest. */
async function rssWhile(pid: number, stop: Promise<unknown>): Promise<number> {
  let max = rssBytes(pid);
  let done = false;
  void stop.finally(() => (done = true));
  while (!done) {
    max = Math.max(max, rssBytes(pid));
    await new Promise((r) => setTimeout(r, 100));
  }
  return max;
}

test('a 9 MB flood from exec: arrives whole and exact in the page, unthrottled', async () => {
  const browser = await launch();
  let pb: Running | undefined;
  try {
    const o = await openFlood(browser, 9_000_000);
    pb = o.pb;
    const want = floodBytes(9_000_000);
    await o.page.keyboard.press('g');
    await assertArrived(o.page, want, () => pb!.stderr());
  } finally {
    await browser.close();
    await pb?.stop();
  }
});

test("with the page's CPU throttled 4x a 6 MB flood arrives whole, paced by pause and resume, and the server's RSS stays bounded", async (t) => {
  const browser = await launch();
  let pb: Running | undefined;
  try {
    const o = await openFlood(browser, 6_000_000);
    pb = o.pb;
    const cdp = await o.page.context().newCDPSession(o.page);
    await cdp.send('Emulation.setCPUThrottlingRate', { rate: 4 });
    const want = floodBytes(6_000_000);
    const baseline = rssBytes(o.pb.proc.pid!);
    await o.page.keyboard.press('g');
    const arrived = assertArrived(o.page, want, () => pb!.stderr());
    const max = await rssWhile(o.pb.proc.pid!, arrived);
    await arrived;
    const got = await tally(o.page);
    t.diagnostic(`RSS ${(baseline / MiB).toFixed(0)} → max ${(max / MiB).toFixed(0)} MiB; the page paused ${got.pauses} times and resumed ${got.resumes}`);
    // Whether it pauses at all depends on how fast the server is against the throttled page (a loaded
    // machine may never outrun it): a speed, not a property. What must hold is below.
    assert.equal(got.resumes, got.pauses, 'every pause was followed by its resume');
    assert.ok(max - baseline < 48 * MiB, `RSS ${(baseline / MiB).toFixed(0)} → max ${(max / MiB).toFixed(0)} MiB for a 6 MB flood`);
  } finally {
    await browser.close();
    await pb?.stop();
  }
});

test("a page that pauses and never resumes: the shell blocks writing, the server's RSS stays bounded; once it resumes everything arrives", async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ptyb-flow-'));
  const progress = path.join(dir, 'written');
  const browser = await launch();
  let pb: Running | undefined;
  const total = 24_000_000;
  try {
    const o = await openFlood(browser, total, progress);
    pb = o.pb;
    const page = o.page;
    const baseline = rssBytes(o.pb.proc.pid!);
    // The page pauses by itself (its own marks) and then never resumes: its resumes are held back.
    await page.evaluate(() => ((window as unknown as { holdResumes: boolean }).holdResumes = true));
    await page.evaluate(() => (window as unknown as { ptybridge: { socket(): WebSocket } }).ptybridge.socket().send('{"type":"pause"}'));
    await page.keyboard.press('g');
    const written = () => {
      try {
        return Number(readFileSync(progress, 'utf8'));
      } catch {
        return 0;
      }
    };
    // Blocked: in the middle of the flood, asleep in the pty's write, and no further at a second look.
    let last = -1;
    const stalledAt = await until(
      () => {
        const now = written();
        const stat = readFileSync(`/proc/${o.pid}/stat`, 'utf8');
        const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
        const wchan = readFileSync(`/proc/${o.pid}/wchan`, 'utf8');
        const blocked = now < total && state === 'S' && now === last && /wait_woken|tty_write/.test(wchan);
        last = now;
        return blocked ? now + 1 : 0;
      },
      {
        step: 1000,
        what: 'the flood to stop, asleep writing to its pty',
        detail: () => `written ${written()} of ${total}; wchan ${readFileSync(`/proc/${o.pid}/wchan`, 'utf8')}`,
      },
    );
    const rss = rssBytes(o.pb.proc.pid!);
    t.diagnostic(`the shell stopped at ${stalledAt - 1} of ${total} bytes; RSS ${(baseline / MiB).toFixed(0)} → ${(rss / MiB).toFixed(0)} MiB`);
    assert.ok(stalledAt - 1 < 8 * MiB, `the shell wrote ${stalledAt - 1} bytes to a paused page`);
    assert.ok(rss - baseline < 48 * MiB, `RSS ${(baseline / MiB).toFixed(0)} → ${(rss / MiB).toFixed(0)} MiB`);
    const before = await tally(page);
    assert.ok(before.count < 8 * MiB, `the paused page got ${before.count} bytes`);
    // Resumes: what was held comes, then the rest of the flood, exact.
    await page.evaluate(() => {
      const w = window as unknown as { holdResumes: boolean; ptybridge: { socket(): WebSocket } };
      w.holdResumes = false;
      w.ptybridge.socket().send('{"type":"resume"}');
    });
    const arrived = assertArrived(page, floodBytes(total), () => pb!.stderr());
    const max = await rssWhile(o.pb.proc.pid!, arrived);
    await arrived;
    assert.ok(max - baseline < 48 * MiB, `RSS ${(baseline / MiB).toFixed(0)} → max ${(max / MiB).toFixed(0)} MiB after the resume`);
  } finally {
    await browser.close();
    await pb?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a socket lost while the page is paused: the page reconnects resumed, gets its screen and the end of the flood (a pause never outlives its socket)', async () => {
  const browser = await launch();
  let pb: Running | undefined;
  try {
    const o = await openFlood(browser, 20_000_000);
    pb = o.pb;
    const page = o.page;
    // A throttled page falls behind and pauses by itself; its resume is held back, so it stays
    // paused on this socket; then the socket goes (a network drop).
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('Emulation.setCPUThrottlingRate', { rate: 4 });
    await page.evaluate(() => ((window as unknown as { holdResumes: boolean }).holdResumes = true));
    await page.keyboard.press('g');
    await until(async () => (await tally(page)).pauses > 0, { what: 'the page to say pause' });
    await cdp.send('Emulation.setCPUThrottlingRate', { rate: 1 });
    await page.evaluate(() => {
      const w = window as unknown as { holdResumes: boolean; ptybridge: { socket(): WebSocket } };
      w.holdResumes = false;
      w.ptybridge.socket().close();
    });
    await pb.logged(/session .*: resumed by/);
    await page.waitForSelector('#status.connected');
    // The reconnected page starts resumed: the flood runs to its end and the page shows it.
    await until(async () => (await screenLines(page)).includes(`END ${20_000_000 / 100}`), {
      timeout: 240_000,
      step: 250,
      what: 'the end of the flood on the reconnected page',
      detail: async () => `${JSON.stringify(await tally(page))}\n${pb!.stderr()}`,
    });
  } finally {
    await browser.close();
    await pb?.stop();
  }
});

// Flow control between the browser terminal and the server (credits: the page acks what xterm.js parsed, the server keeps at most a window out; pause/resume for older pages): floods from an exec: shell arrive whole in headless Chromium, fast or CPU-throttled, with the server's memory bounded; a page that stops acking or pauses blocks the shell.
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

type Tally = { count: number; hash: number; pauses: number; resumes: number; acked: number; heldAcks: number; maxUnacked: number };

/**
 * From now on the page tallies the bytes it hands to xterm.js (count and FNV-1a), the pause
 * and resume controls it sends, and its acks: how many bytes, and the most it ever held
 * received and unacknowledged (what the server had out at least). `holdResumes` keeps its
 * resumes back, as a page that paused and never resumed; `holdAcks` its acks (summed in
 * heldAcks), as a page that stopped parsing.
 */
function watchPage(page: Page): Promise<void> {
  return page.evaluate(() => {
    type W = {
      ptybridge: { term: { write(d: Uint8Array | string, cb?: () => void): void }; socket(): WebSocket | undefined };
      tally: Tally;
      heldResumes: string[];
      holdResumes: boolean;
      holdAcks: boolean;
    };
    const w = window as unknown as W;
    w.tally = { count: 0, hash: 0x811c9dc5, pauses: 0, resumes: 0, acked: 0, heldAcks: 0, maxUnacked: 0 };
    w.heldResumes = [];
    w.holdResumes = false;
    w.holdAcks = false;
    // Received on this socket and not acknowledged: the page acks all it got, from the first byte.
    let received = 0;
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
    const sock = w.ptybridge.socket()!;
    sock.addEventListener('message', (ev: MessageEvent) => {
      if (typeof ev.data === 'string') return;
      received += (ev.data as ArrayBuffer).byteLength;
      // Everything before the watch was parsed and acked (the screen shows "ready").
      w.tally.maxUnacked = Math.max(w.tally.maxUnacked, received - w.tally.acked - w.tally.heldAcks);
    });
    const send = WebSocket.prototype.send;
    WebSocket.prototype.send = function (this: WebSocket, data: string | ArrayBufferLike | Blob | ArrayBufferView) {
      if (typeof data === 'string') {
        const m = JSON.parse(data) as { type: string; bytes?: number; window?: number };
        if (m.type === 'pause') w.tally.pauses++;
        if (m.type === 'resume') {
          if (w.holdResumes) return void w.heldResumes.push(data);
          w.tally.resumes++;
        }
        if (m.type === 'ack' && this === sock) {
          if (w.holdAcks) return void (w.tally.heldAcks += m.bytes!);
          w.tally.acked += m.bytes!;
        }
      }
      send.call(this, data);
    };
  });
}

const tally = (page: Page): Promise<Tally> => page.evaluate(() => (window as unknown as { tally: Tally }).tally);

/**
 * Starts the flood's shell behind ws-listen and opens the page on it; resolves once the shell
 * said ready. `oldPage`: the page never announces a window nor acks (as a page from before
 * credits, or any other client): its credit and ack messages are dropped before they leave.
 */
async function openFlood(
  browser: Browser,
  bytes: number,
  opts: { progress?: string; oldPage?: boolean } = {},
): Promise<{ pb: Running; page: Page; pid: number }> {
  // -vv: the server says at a socket's close the most output it had out unacknowledged.
  const pb = await startPtyb(['-vv', `exec:python3 ${FLOOD} ${bytes}${opts.progress ? ` ${opts.progress}` : ''}`, withToken('ws-listen:0')]);
  const page = await browser.newPage({ viewport: { width: 1400, height: 800 }, deviceScaleFactor: 1 });
  if (opts.oldPage)
    await page.addInitScript(() => {
      const send = WebSocket.prototype.send;
      WebSocket.prototype.send = function (this: WebSocket, data: string | ArrayBufferLike | Blob | ArrayBufferView) {
        if (typeof data === 'string' && /^\{"type":"(credit|ack)"/.test(data)) return;
        send.call(this, data);
      };
    });
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

/** The page's larger window (src/web/client.ts: the one while nobody types; a key makes it the smaller one for a while). */
const flowWindow = (page: Page): Promise<number> =>
  page.evaluate(() => (window as unknown as { ptybridge: { flowWindows: { watching: number; typing: number } } }).ptybridge.flowWindows.watching);

/** Closes the page; resolves with what the server said at its socket's close: the most output it had out unacknowledged, and the window. */
async function serverPeak(pb: Running, page: Page): Promise<{ peak: number; window: number }> {
  await page.close();
  const m = await pb.logged(/websocket closed \([^)]*\); at most (\d+) bytes of output unacknowledged \(window (\d+)\)/);
  return { peak: Number(m[1]), window: Number(m[2]) };
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

test('a 9 MB flood from exec: arrives whole and exact in the page, unthrottled, with never more than the window unacknowledged', async (t) => {
  const browser = await launch();
  let pb: Running | undefined;
  try {
    const o = await openFlood(browser, 9_000_000);
    pb = o.pb;
    const want = floodBytes(9_000_000);
    const win = await flowWindow(o.page);
    await o.page.keyboard.press('g');
    await assertArrived(o.page, want, () => pb!.stderr());
    const got = await tally(o.page);
    const server = await serverPeak(pb, o.page);
    t.diagnostic(`window ${win}: the page held at most ${got.maxUnacked} bytes unacknowledged, the server had at most ${server.peak} out`);
    assert.ok(server.peak <= win, `the server had ${server.peak} bytes out, window ${win}`);
    assert.ok(got.maxUnacked <= win, `the page got ${got.maxUnacked} bytes ahead of its acks, window ${win}`);
    assert.equal(got.pauses, 0, 'a page with a window needs no pause');
  } finally {
    await browser.close();
    await pb?.stop();
  }
});

test("with the page's CPU throttled 4x a 6 MB flood arrives whole, paced by the page's acks; the server has at most the window out and its RSS stays bounded", async (t) => {
  const browser = await launch();
  let pb: Running | undefined;
  try {
    const o = await openFlood(browser, 6_000_000);
    pb = o.pb;
    const cdp = await o.page.context().newCDPSession(o.page);
    await cdp.send('Emulation.setCPUThrottlingRate', { rate: 4 });
    const want = floodBytes(6_000_000);
    const win = await flowWindow(o.page);
    const baseline = rssBytes(o.pb.proc.pid!);
    await o.page.keyboard.press('g');
    const arrived = assertArrived(o.page, want, () => pb!.stderr());
    const max = await rssWhile(o.pb.proc.pid!, arrived);
    await arrived;
    const got = await tally(o.page);
    const server = await serverPeak(pb, o.page);
    t.diagnostic(
      `RSS ${(baseline / MiB).toFixed(0)} → max ${(max / MiB).toFixed(0)} MiB; at most ${server.peak} bytes out (window ${win}), ${got.acked} acked`,
    );
    assert.ok(server.peak <= win, `the server had ${server.peak} bytes out, window ${win}`);
    assert.ok(got.maxUnacked <= win, `the page got ${got.maxUnacked} bytes ahead of its acks, window ${win}`);
    assert.ok(max - baseline < 48 * MiB, `RSS ${(baseline / MiB).toFixed(0)} → max ${(max / MiB).toFixed(0)} MiB for a 6 MB flood`);
  } finally {
    await browser.close();
    await pb?.stop();
  }
});

test("a page that stops acknowledging: it gets no more than its window, the shell blocks writing and the server's RSS stays bounded; once it acks everything arrives", async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ptyb-flow-'));
  const progress = path.join(dir, 'written');
  const browser = await launch();
  let pb: Running | undefined;
  const total = 24_000_000;
  try {
    const o = await openFlood(browser, total, { progress });
    pb = o.pb;
    const page = o.page;
    const win = await flowWindow(page);
    const baseline = rssBytes(o.pb.proc.pid!);
    await page.evaluate(() => ((window as unknown as { holdAcks: boolean }).holdAcks = true));
    await page.keyboard.press('g');
    const stalledAt = await untilBlocked(o.pid, progress, total);
    const rss = rssBytes(o.pb.proc.pid!);
    const before = await tally(page);
    t.diagnostic(
      `the shell stopped at ${stalledAt} of ${total} bytes; the page got ${before.count} (window ${win}); RSS ${(baseline / MiB).toFixed(0)} → ${(rss / MiB).toFixed(0)} MiB`,
    );
    // Not one byte past the window reached the page (the flood's bytes are all it got since the watch).
    assert.ok(before.count <= win, `the page got ${before.count} bytes without acking, window ${win}`);
    assert.ok(stalledAt < 8 * MiB, `the shell wrote ${stalledAt} bytes to a page that did not ack`);
    assert.ok(rss - baseline < 48 * MiB, `RSS ${(baseline / MiB).toFixed(0)} → ${(rss / MiB).toFixed(0)} MiB`);
    // It acks what it held back, and from now on as it parses: the rest of the flood, exact.
    await page.evaluate(() => {
      const w = window as unknown as { holdAcks: boolean; tally: Tally; ptybridge: { socket(): WebSocket } };
      w.holdAcks = false;
      w.ptybridge.socket().send(JSON.stringify({ type: 'ack', bytes: w.tally.heldAcks }));
    });
    const arrived = assertArrived(page, floodBytes(total), () => pb!.stderr());
    const max = await rssWhile(o.pb.proc.pid!, arrived);
    await arrived;
    const server = await serverPeak(pb, page);
    assert.ok(server.peak <= win, `the server had ${server.peak} bytes out, window ${win}`);
    assert.ok(max - baseline < 48 * MiB, `RSS ${(baseline / MiB).toFixed(0)} → max ${(max / MiB).toFixed(0)} MiB after the acks`);
  } finally {
    await browser.close();
    await pb?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a page that never announces a window nor acks (an old page, another client) still gets a 9 MB flood whole and exact', async () => {
  const browser = await launch();
  let pb: Running | undefined;
  try {
    const o = await openFlood(browser, 9_000_000, { oldPage: true });
    pb = o.pb;
    await o.page.keyboard.press('g');
    await assertArrived(o.page, floodBytes(9_000_000), () => pb!.stderr());
    await o.page.close();
    // Its socket's close says nothing of a window: none was counted.
    const closed = await pb.logged(/websocket closed \([^)]*\).*/);
    assert.doesNotMatch(closed[0], /unacknowledged/);
  } finally {
    await browser.close();
    await pb?.stop();
  }
});

/** Waits until the flood stopped mid-way, asleep in its pty write, and no further at a second look; resolves with the bytes it wrote. */
async function untilBlocked(pid: number, progress: string, total: number): Promise<number> {
  const written = () => {
    try {
      return Number(readFileSync(progress, 'utf8'));
    } catch {
      return 0;
    }
  };
  let last = -1;
  const at = await until(
    () => {
      const now = written();
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
      const wchan = readFileSync(`/proc/${pid}/wchan`, 'utf8');
      const blocked = now < total && state === 'S' && now === last && /wait_woken|tty_write/.test(wchan);
      last = now;
      return blocked ? now + 1 : 0;
    },
    {
      step: 1000,
      what: 'the flood to stop, asleep writing to its pty',
      detail: () => `written ${written()} of ${total}; wchan ${readFileSync(`/proc/${pid}/wchan`, 'utf8')}`,
    },
  );
  return at - 1;
}

test("pause and resume still hold the output (pages from before credits): a page that pauses and never resumes blocks the shell, the server's RSS stays bounded; once it resumes everything arrives", async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ptyb-flow-'));
  const progress = path.join(dir, 'written');
  const browser = await launch();
  let pb: Running | undefined;
  const total = 24_000_000;
  try {
    const o = await openFlood(browser, total, { progress });
    pb = o.pb;
    const page = o.page;
    const baseline = rssBytes(o.pb.proc.pid!);
    // The page pauses and then never resumes: its resumes are held back.
    await page.evaluate(() => ((window as unknown as { holdResumes: boolean }).holdResumes = true));
    await page.evaluate(() => (window as unknown as { ptybridge: { socket(): WebSocket } }).ptybridge.socket().send('{"type":"pause"}'));
    await page.keyboard.press('g');
    const stalledAt = await untilBlocked(o.pid, progress, total);
    const rss = rssBytes(o.pb.proc.pid!);
    t.diagnostic(`the shell stopped at ${stalledAt} of ${total} bytes; RSS ${(baseline / MiB).toFixed(0)} → ${(rss / MiB).toFixed(0)} MiB`);
    assert.ok(stalledAt < 8 * MiB, `the shell wrote ${stalledAt} bytes to a paused page`);
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

test('a socket lost while the page holds its acks: the page reconnects with a fresh window, gets its screen and the end of the flood (a window never outlives its socket)', async () => {
  const browser = await launch();
  let pb: Running | undefined;
  try {
    const o = await openFlood(browser, 20_000_000);
    pb = o.pb;
    const page = o.page;
    // The page stops acking, so its window fills and the server holds the rest; then the socket
    // goes (a network drop) with the window full.
    await page.evaluate(() => ((window as unknown as { holdAcks: boolean }).holdAcks = true));
    await page.keyboard.press('g');
    await until(async () => (await tally(page)).heldAcks > 0, { what: 'the page to hold back an ack' });
    await page.evaluate(() => {
      const w = window as unknown as { holdAcks: boolean; ptybridge: { socket(): WebSocket } };
      w.holdAcks = false;
      w.ptybridge.socket().close();
    });
    await pb.logged(/session .*: resumed by/);
    await page.waitForSelector('#status.connected');
    // The reconnected page announces its window afresh: the flood runs to its end and the page shows it.
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

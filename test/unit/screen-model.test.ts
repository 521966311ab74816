// The screen model's snapshot meets the live stream at an exact byte boundary: snapshot + the bytes after it rebuild the same screen.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import headless from '@xterm/headless';
import { ScreenModel } from '../../src/router/screen.js';
import { until } from '../helpers/until.js';
import { heapReleases, heapTrims } from '../../src/router/heap-release.js';

/**
 * What a terminal shows after it is given `bytes`: the visible rows, cursor, buffer, modes
 * and title. (Scrollback is left out: a scroll region or the alternate screen moves lines in
 * ways a serialized history cannot replay line for line.)
 */
function shown(bytes: Buffer, cols: number, rows: number): Promise<string> {
  const t = new headless.Terminal({ cols, rows, scrollback: 0, allowProposedApi: true });
  let title = '';
  t.onTitleChange((x) => (title = x));
  return new Promise((resolve) =>
    t.write(bytes, () => {
      const b = t.buffer.active;
      const lines: string[] = [];
      for (let i = 0; i < rows; i++) lines.push(b.getLine(b.baseY + i)?.translateToString(false) ?? '');
      resolve(JSON.stringify({ lines, x: b.cursorX, y: b.cursorY, type: b.type, modes: t.modes, title }));
      t.dispose();
    }),
  );
}

/** Deterministic pseudo-random numbers, so that a failure can be replayed. */
function rng(seed: number): () => number {
  return () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
}

/** Terminal output of every kind: text and newlines (scrollback), colors, cursor moves, the alternate screen, modes, UTF-8, a title. */
function output(rand: () => number, n: number): Buffer {
  const parts = [
    'line of text\r\n',
    '\x1b[31mred\x1b[0m ',
    '\x1b[5;10Hxy',
    '\x1b[?1049h',
    '\x1b[?1049l',
    '\x1b[?1h',
    '\x1b[?2004h',
    'é→字 ',
    '\x1b]0;title-',
    '\x07',
    '\x1b[2J',
    '\x1b[3;20r',
    '\x1b[r',
    '\x1b[?25l',
    '\x1b[?25h',
    '\x1b[K',
    '\r\n\r\n\r\n',
  ];
  let s = '';
  for (let i = 0; i < n; i++) s += parts[Math.floor(rand() * parts.length)]! + (rand() < 0.1 ? String(i) : '');
  return Buffer.from(s);
}

const snap = (m: ScreenModel) => new Promise<Buffer>((r) => m.snapshot(r));

test('snapshots taken anywhere in the stream (mid escape, mid UTF-8) plus the bytes after them rebuild the final screen', async () => {
  for (const seed of [1, 2, 3]) {
    const rand = rng(seed);
    const data = output(rand, 3000);
    const opts = { cols: 40, rows: 12, scrollback: 50 };
    const model = new ScreenModel(opts);
    const joins: Promise<{ first: Buffer; at: number }>[] = [];
    let at = 0;
    while (at < data.length) {
      const n = 1 + Math.floor(rand() * 300);
      model.push(data.subarray(at, at + n));
      at = Math.min(at + n, data.length);
      if (rand() < 0.1) {
        const here = at;
        joins.push(snap(model).then((first) => ({ first, at: here })));
      }
      // Some chunks arrive in the same tick, others after the parser has run.
      if (rand() < 0.2) await new Promise((r) => setImmediate(r));
    }
    const final = await snap(model);
    for (const j of await Promise.all(joins)) {
      const replica = new ScreenModel(opts);
      replica.push(j.first);
      replica.push(data.subarray(j.at));
      assert.equal(await shown(await snap(replica), opts.cols, opts.rows), await shown(final, opts.cols, opts.rows), `seed ${seed}: snapshot at byte ${j.at}`);
      replica.dispose();
    }
    model.dispose();
  }
});

test('a device that has said nothing gives a joiner nothing (not even a reset); a resize applies in stream order', async () => {
  const model = new ScreenModel({ cols: 80, rows: 24, scrollback: 10 });
  assert.equal((await snap(model)).length, 0);
  model.push(Buffer.from('\x1b[2;1H' + 'a'.repeat(100)));
  model.resize(120, 24);
  model.push(Buffer.from('\x1b[5;1H' + 'c'.repeat(100)));
  const s = JSON.parse(await shown(await snap(model), 120, 24)) as { lines: string[] };
  // Written after the resize: 100 c's on one row of the widened screen.
  assert.equal(s.lines[4]!.trimEnd(), 'c'.repeat(100));
  model.dispose();
});

test('a model freed after its quiet period gives a joiner the same bytes as before, and is rebuilt exactly when output resumes', async () => {
  const opts = { cols: 40, rows: 12, scrollback: 50, quietMs: 30 };
  const data = output(rng(7), 2000);
  const model = new ScreenModel(opts);
  // Nothing said yet: no terminal is made at all.
  assert.equal(model.hydrated, false);
  model.push(data);
  const before = await snap(model);
  assert.equal(model.hydrated, true);
  await until(() => !model.hydrated, { what: 'the model to be freed after its quiet period', timeout: 10_000 });
  // The joiner of the freed model gets exactly the bytes a joiner got while it was live.
  assert.deepEqual(await snap(model), before);
  assert.equal(model.hydrated, false);

  // Output after the freeing is drawn on the rebuilt screen as on one that never went away.
  const more = output(rng(8), 500);
  const live = new ScreenModel({ ...opts, quietMs: 60_000 });
  live.push(data);
  live.push(more);
  model.push(more);
  assert.deepEqual(await snap(model), await snap(live));
  // And a resize of a freed model reflows the saved screen as a live one does.
  await until(() => !model.hydrated, { what: 'the model to be freed after its quiet period', timeout: 10_000 });
  model.resize(30, 10);
  live.resize(30, 10);
  assert.deepEqual(await snap(model), await snap(live));
  model.dispose();
  live.dispose();
});

test('many models freed in one sweep (the heap is then collected and returned) each give their exact bytes, and are rebuilt exactly', async () => {
  const opts = { cols: 40, rows: 12, scrollback: 50, quietMs: 30 };
  const releasedBefore = heapReleases;
  const trimsBefore = heapTrims;
  const models = Array.from({ length: 12 }, () => new ScreenModel(opts));
  const datas = models.map((_, i) => output(rng(100 + i), 1500));
  models.forEach((m, i) => m.push(datas[i]!));
  const before = await Promise.all(models.map(snap));
  await until(() => models.every((m) => !m.hydrated) && heapReleases > releasedBefore, {
    what: 'the models to be freed in one sweep and the heap released',
    timeout: 30_000,
  });
  // npm ci builds the addon (scripts/build-native.mjs, from prepare): the release ends with glibc's trim.
  assert.equal(heapTrims, trimsBefore + 1, 'malloc_trim ran after the collections');
  assert.deepEqual(await Promise.all(models.map(snap)), before);
  for (const [i, m] of models.entries()) {
    const more = output(rng(200 + i), 300);
    const live = new ScreenModel({ ...opts, quietMs: 60_000 });
    live.push(datas[i]!);
    live.push(more);
    m.push(more);
    assert.deepEqual(await snap(m), await snap(live));
    m.dispose();
    live.dispose();
  }
});

test('one model freed with a long scroll-back (a web shell after cat of a log) is enough to release the heap, and comes back exact', async () => {
  const model = new ScreenModel({ cols: 200, rows: 50, scrollback: 10_000, quietMs: 30 });
  const releasedBefore = heapReleases;
  const log = Array.from({ length: 12_000 }, (_, i) => `2026-12-06 line ${i} of a long log \x1b[32mok\x1b[0m\r\n`).join('');
  model.push(Buffer.from(log));
  const before = await snap(model);
  await until(() => !model.hydrated && heapReleases > releasedBefore, { what: 'the model freed alone and the heap released', timeout: 30_000 });
  assert.deepEqual(await snap(model), before);
  model.dispose();
});

test('binary output (random bytes: parsing errors in the emulator) writes nothing to the console', async () => {
  const model = new ScreenModel({ cols: 80, rows: 24, scrollback: 10 });
  const rand = rng(5);
  const noise = Buffer.alloc(256 * 1024);
  for (let i = 0; i < noise.length; i++) noise[i] = Math.floor(rand() * 256);
  const logged: unknown[][] = [];
  const saved = { error: console.error, warn: console.warn, info: console.info, log: console.log };
  for (const k of ['error', 'warn', 'info', 'log'] as const) console[k] = (...args: unknown[]) => void logged.push(args);
  try {
    model.push(noise);
    // The snapshot comes once everything pushed before it has been parsed.
    await snap(model);
  } finally {
    Object.assign(console, saved);
    model.dispose();
  }
  assert.equal(logged.length, 0, `the emulator logged: ${String(logged[0]?.[0])}`);
});

test('small chunks (copied into a batch) and large ones (kept) interleaved draw what one push of the same bytes draws', async () => {
  const opts = { cols: 40, rows: 12, scrollback: 50 };
  for (const seed of [11, 12]) {
    const rand = rng(seed);
    const data = output(rand, 6000);
    const model = new ScreenModel(opts);
    let at = 0;
    while (at < data.length) {
      // 1–5 bytes mostly (a console's echoes), now and then a chunk of a few KiB.
      const n = rand() < 0.05 ? 1024 + Math.floor(rand() * 6000) : 1 + Math.floor(rand() * 5);
      model.push(data.subarray(at, at + n));
      at += n;
      if (rand() < 0.01) await new Promise((r) => setImmediate(r));
    }
    const whole = new ScreenModel(opts);
    whole.push(data);
    assert.deepEqual(await snap(model), await snap(whole), `seed ${seed}`);
    model.dispose();
    whole.dispose();
  }
});

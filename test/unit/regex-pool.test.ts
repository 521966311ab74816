// The API's regex workers: a pattern's time budget counts its run, not the worker's start-up.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { until } from '../helpers/until.js';
import { RegexPool, RegexTooSlow } from '../../src/web/regex-pool.js';

const busy = (ms: number): void => {
  const end = Date.now() + ms;
  while (Date.now() < end);
};

test('a fresh worker that starts slower than the budget does not make a quick pattern "too slow"', async () => {
  const pool = new RegexPool(1, 50);
  const found = pool.exec('b+', '', 'abbc', 'caller');
  // The main thread is held past the budget while the worker starts, as on a loaded machine:
  // counted from the dispatch, the budget ran out before the worker could answer.
  busy(300);
  assert.deepEqual(await found, { index: 1, match: 'bb', groups: [], named: {} });
  assert.deepEqual(await pool.exec('b+', '', 'xb', 'caller'), { index: 1, match: 'b', groups: [], named: {} });
});

test('a catastrophic pattern still ends its worker and is refused at once after', async () => {
  const pool = new RegexPool(1, 200);
  await assert.rejects(pool.exec('(a+)+$', '', `${'a'.repeat(40)}!`, 'caller'), RegexTooSlow);
  await assert.rejects(pool.exec('(a+)+$', '', 'a', 'caller'), RegexTooSlow);
  assert.deepEqual(await pool.exec('a', '', 'a', 'caller'), { index: 0, match: 'a', groups: [], named: {} });
});

test('a pattern starved of CPU (one core, busy processes on it) is given the time it waits for a core, not refused', async () => {
  // A child pinned to one core finds a text whose match takes its worker about a quarter of the
  // budget; then eight busy loops start on the same core, so the worker gets about a ninth of
  // it and the same match takes about twice the budget in wall time: "too slow" if counted so.
  const script = `
    import { RegexPool } from ${JSON.stringify(pathToFileURL(join(import.meta.dirname, '../../src/web/regex-pool.ts')).href)};
    import { createInterface } from 'node:readline';
    const BUDGET = 300;
    const run = async (pool, n) => {
      const t = Date.now();
      try {
        return { found: await pool.exec('(a+)+b', '', 'a'.repeat(n), 'caller'), wall: Date.now() - t };
      } catch (err) {
        return { error: err.constructor.name, wall: Date.now() - t };
      }
    };
    let n = 16;
    for (;; n++) {
      // A fresh worker each time, as in the run below: the pattern is compiled and run once.
      const pool = new RegexPool(1, 60_000);
      await pool.exec('x', '', 'x', 'warm-up');
      if ((await run(pool, n)).wall >= BUDGET / 4 || n >= 30) break;
    }
    const pool = new RegexPool(1, BUDGET);
    await pool.exec('x', '', 'x', 'warm-up');
    console.log('calibrated', n);
    const lines = createInterface({ input: process.stdin });
    for await (const _ of lines) break;
    console.log(JSON.stringify(await run(pool, n)));
    process.exit(0);
  `;
  const dir = mkdtempSync(join(tmpdir(), 'ptyb-regex-'));
  const file = join(dir, 'starved.mts');
  writeFileSync(file, script);
  const child = spawn('taskset', ['-c', '0', process.execPath, '--import', 'tsx', file], { stdio: ['pipe', 'pipe', 'inherit'] });
  const busy: ReturnType<typeof spawn>[] = [];
  try {
    let out = '';
    child.stdout!.setEncoding('utf8').on('data', (t: string) => (out += t));
    await until(() => out.includes('calibrated'), { what: 'the child to find its text size', timeout: 120_000 });
    for (let i = 0; i < 8; i++) busy.push(spawn('taskset', ['-c', '0', process.execPath, '-e', 'for (;;);'], { stdio: 'ignore' }));
    child.stdin!.write('go\n');
    await once(child, 'close');
    const r = JSON.parse(out.trim().split('\n').at(-1)!);
    assert.equal(r.error, undefined, `the match was refused after ${r.wall} ms of wall time (${out.trim().split('\n')[0]})`);
    assert.equal(r.found, null);
  } finally {
    for (const b of busy) b.kill('SIGKILL');
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});

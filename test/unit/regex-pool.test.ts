// The API's regex workers: a pattern's time budget counts its run, not the worker's start-up.
import { test } from 'node:test';
import assert from 'node:assert/strict';
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

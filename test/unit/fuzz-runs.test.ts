// Guards the fractional-numRuns hang: fast-check loops forever, synchronously, on numRuns 10.33 (PTYB_FUZZ_RUNS=31 / 3), so no test timeout ever fires.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { fuzzRuns } from '../helpers/fuzz-runs.js';
import { within } from '../helpers/until.js';

const TEST_DIR = new URL('../', import.meta.url);

/** Every .ts file under test/, as [name, text]. */
function testFiles(): [string, string][] {
  return (readdirSync(TEST_DIR, { recursive: true }) as string[]).filter((f) => f.endsWith('.ts')).map((f) => [f, readFileSync(new URL(f, TEST_DIR), 'utf8')]);
}

test('fuzzRuns is a whole number of at least 1 for every scale the tests use, PTYB_FUZZ_RUNS odd or small', () => {
  for (const env of ['31', '1', '7', '3000', undefined, '']) {
    for (const scale of [1, 2, 1 / 3, 1 / 10, 1 / 50]) {
      const n = fuzzRuns(scale, env);
      assert.ok(Number.isInteger(n) && n >= 1, `PTYB_FUZZ_RUNS=${env} × ${scale}: ${n}`);
    }
  }
  assert.equal(fuzzRuns(1 / 3, '31'), 11);
  assert.equal(fuzzRuns(1, undefined), 3000);
});

test('a PTYB_FUZZ_RUNS that is no whole number is refused, not handed to fast-check', () => {
  for (const bad of ['2.5', 'abc', '0', '-3', '1e400']) {
    assert.throws(() => fuzzRuns(1, bad), { message: `PTYB_FUZZ_RUNS: expected a whole number of runs, at least 1, got "${bad}"` });
  }
});

test('every numRuns in test/ is an integer literal, fuzzRuns(…), or a RUNS that the same file computes with fuzzRuns', () => {
  const files = testFiles().filter(([f, text]) => text.includes('numRuns:') && !f.endsWith('fuzz-runs.test.ts')); // this file names it in its messages
  assert.ok(files.length >= 5, `the fuzz tests were found: ${files.map(([f]) => f).join(', ')}`);
  for (const [file, text] of files) {
    for (const m of text.matchAll(/numRuns:\s*([^,}\n]+)/g)) {
      const value = m[1]!.trim();
      if (/^\d[\d_]*$/.test(value) || /^fuzzRuns\([^)]*\)$/.test(value)) continue;
      assert.equal(value, 'RUNS', `${file}: numRuns: ${value} is computed by hand: use fuzzRuns(scale) (test/helpers/fuzz-runs.ts)`);
      assert.match(text, /^const RUNS = fuzzRuns\([^)]*\);$/m, `${file}: RUNS must come from fuzzRuns`);
    }
  }
});

test('PTYB_FUZZ_RUNS=31 (an odd count, 31/3 not whole) runs test/unit/fuzz-uri.test.ts to its end, passing', { timeout: 300_000 }, async () => {
  // The hang was synchronous inside fast-check, so only a separate process shows it ends.
  const env: NodeJS.ProcessEnv = { ...process.env, PTYB_FUZZ_RUNS: '31' };
  delete env.NODE_TEST_CONTEXT; // else the child would report to this runner in its own protocol
  const child = spawn(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=tap', fileURLToPath(new URL('fuzz-uri.test.ts', import.meta.url))], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (t: string) => (out += t));
  child.stderr.setEncoding('utf8').on('data', (t: string) => (out += t));
  try {
    const [code] = await within(once(child, 'exit'), {
      what: 'fuzz-uri.test.ts with PTYB_FUZZ_RUNS=31 to finish',
      timeout: 240_000,
      detail: () => out.slice(-2000),
    });
    assert.equal(code, 0, out.slice(-2000));
    assert.match(out, /^# fail 0$/m);
    assert.match(out, /^# pass [1-9]\d*$/m);
  } finally {
    child.kill('SIGKILL');
  }
});

// src/ has no import circle (scripts/check-cycles.mjs), and the checker does find one where there is.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { ROOT, runTool } from './helpers/ptyb.js';

const CHECK = path.join(ROOT, 'scripts/check-cycles.mjs');

test('src/: every import points down the layers (no circle)', async () => {
  const r = await runTool(process.execPath, [CHECK, path.join(ROOT, 'src')]);
  assert.equal(r.stderr, '');
  assert.equal(r.code, 0);
});

test('the checker names a circle, type-only and multi-line imports included, and exits 1', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'ptyb-cycles-'));
  try {
    writeFileSync(path.join(dir, 'a.ts'), "import { b } from './b.js';\nexport const a = b;\n");
    writeFileSync(path.join(dir, 'b.ts'), "import {\n  c,\n} from './c.js';\nexport const b = c;\n");
    writeFileSync(path.join(dir, 'c.ts'), "import type { A } from './a.js';\nexport const c = 1 as unknown as A;\n");
    writeFileSync(path.join(dir, 'd.ts'), "import { a } from './a.js';\nexport const d = a;\n");
    const r = await runTool(process.execPath, [CHECK, dir]);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, 'import circle: a.ts ↔ b.ts ↔ c.ts\n');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

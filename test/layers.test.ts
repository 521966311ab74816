// src/ has no import circle and no import up the layers (scripts/check-cycles.mjs), and the checker finds both where they are.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { ROOT, runTool } from './helpers/ptyb.js';

const CHECK = path.join(ROOT, 'scripts/check-cycles.mjs');

test('src/: every import points down the layers of docs/ARCHITECTURE.md, and there is no circle', async () => {
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

test('the checker names an import up the layers and a module in no layer', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'ptyb-layers-'));
  try {
    for (const d of ['core', 'endpoints', 'router']) mkdirSync(path.join(dir, d));
    writeFileSync(path.join(dir, 'core/link.ts'), 'export type Link = { label: string };\n');
    // A real upward arrow: endpoints reaching into the router.
    writeFileSync(path.join(dir, 'router/hub.ts'), 'export const hub = 1;\n');
    writeFileSync(path.join(dir, 'endpoints/tcp.ts'), "import { hub } from '../router/hub.js';\nexport const tcp = hub;\n");
    writeFileSync(path.join(dir, 'stray.ts'), 'export const stray = 1;\n');
    const r = await runTool(process.execPath, [CHECK, dir]);
    assert.equal(r.code, 1);
    assert.equal(
      r.stderr,
      'upward import: endpoints/tcp.ts -> router/hub.ts: endpoints imports router, a layer above it\nupward import: stray.ts: is in no layer (add it to LAYERS in scripts/check-cycles.mjs and to docs/ARCHITECTURE.md)\n',
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

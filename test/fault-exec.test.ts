// No URI value reaches a shell: exec: arguments with ; $( ) and backticks arrive literally.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runPtyb } from './helpers/ptyb.js';

test('exec: ; $(…) and `…` in the arguments run as literal arguments, never through a shell', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ptyb-inject-'));
  const a = join(dir, 'a');
  const b = join(dir, 'b');
  const c = join(dir, 'c');
  try {
    const args = [`;touch ${a}`, `$(touch ${b})`, `\`touch ${c}\``];
    const quotedArgs = args.map((x) => `'${x}'`).join(' ');
    const res = await runPtyb([`exec:/usr/bin/printf '[%s]' ${quotedArgs}`, '-']);
    const out = res.stdout.toString();
    for (const x of args) assert.ok(out.includes(`[${x}]`), `literal ${x} arrived: ${JSON.stringify(out)} ${res.stderr}`);
    for (const f of [a, b, c]) assert.equal(existsSync(f), false, `${f} must not be created`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// The npm package (npm pack / publish): the bundle, its source map, its own addon and the postinstall script, nothing
// else. It once carried both single binaries (233 MB unpacked). A copy of exactly the packed files, with the
// dependencies beside it, must run and load every native addon.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { ROOT } from './helpers/ptyb.js';

test('npm pack holds the bundle, its addons and the postinstall script only; a copy of those runs and loads every addon', () => {
  // --ignore-scripts: `prepare` would rebuild the bundle other tests are running.
  const pack = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: ROOT, encoding: 'utf8' });
  assert.equal(pack.status, 0, pack.stderr);
  const [info] = JSON.parse(pack.stdout) as { files: { path: string }[] }[];
  const files = info!.files.map((f) => f.path).sort();
  assert.deepEqual(files, [
    'README.md',
    'dist/native/malloc-trim-linux-arm64.node',
    'dist/native/malloc-trim-linux-x64.node',
    'dist/ptybridge.mjs',
    'dist/ptybridge.mjs.map',
    'package.json',
    'scripts/unshadow-node.mjs',
  ]);
  const dir = mkdtempSync(join(tmpdir(), 'ptyb-npm-package-'));
  try {
    for (const f of files) {
      mkdirSync(join(dir, dirname(f)), { recursive: true });
      copyFileSync(join(ROOT, f), join(dir, f));
    }
    symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
    const run = (args: string[], input = '') => spawnSync(process.execPath, [join(dir, 'dist/ptybridge.mjs'), ...args], { cwd: dir, input, encoding: 'utf8' });
    const version = run(['--version', '-v']);
    assert.equal(version.status, 0, version.stderr);
    assert.match(version.stdout + version.stderr, /native addons \(node_modules\):\n {2}node-pty: ok\n {2}serialport: ok\n {2}malloc-trim: ok/);
    const piped = run(['-', 'exec:cat?pipes'], 'through the packed bundle\n');
    assert.equal(piped.status, 0, piped.stderr);
    assert.equal(piped.stdout, 'through the packed bundle\n');
    const postinstall = spawnSync(process.execPath, [join(dir, 'scripts/unshadow-node.mjs')], { cwd: dir, encoding: 'utf8' });
    assert.equal(postinstall.status, 0, postinstall.stderr);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

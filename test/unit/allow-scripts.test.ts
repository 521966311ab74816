// package.json's allowScripts answers npm 11's install-script gate for exactly the packages of the lock that have install scripts: a new one would make `npm ci` warn a newcomer about a script nobody judged.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

const read = (file: string) => JSON.parse(readFileSync(new URL(`../../${file}`, import.meta.url), 'utf8'));

test('allowScripts names every package of package-lock.json with an install script, and nothing else', () => {
  const pkg = read('package.json') as { allowScripts?: Record<string, boolean> };
  const lock = read('package-lock.json') as { packages: Record<string, { hasInstallScript?: boolean }> };
  // "" is this project itself; a nested copy (node_modules/a/node_modules/b) is named by its last part.
  const withScripts = Object.entries(lock.packages)
    .filter(([path, p]) => path !== '' && p.hasInstallScript)
    .map(([path]) => path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length));
  const answered = Object.keys(pkg.allowScripts ?? {});
  assert.deepEqual(
    [...new Set(withScripts)].sort(),
    [...answered].sort(),
    'a package with an install script was added or removed: judge it, then say so in allowScripts (CONTRIBUTING.md, "Dependencies")',
  );
  // Both ship prebuilt binaries, so their scripts stay off.
  assert.deepEqual(pkg.allowScripts, { '@serialport/bindings-cpp': false, esbuild: false });
});

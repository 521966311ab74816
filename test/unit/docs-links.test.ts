// Every relative link in README.md, CONTRIBUTING.md and docs/*.md resolves: the file exists and the #anchor is a heading in it.
import assert from 'node:assert/strict';
import { test } from 'node:test';
// @ts-expect-error: a plain .mjs script, no types
import { checkLinks } from '../../scripts/check-links.mjs';

test('README and docs/*.md: every relative link names an existing file and heading', () => {
  const { files, broken } = checkLinks() as { files: string[]; broken: string[] };
  assert.ok(files.includes('docs/REFERENCE.md'), 'the reference is among the files checked');
  assert.deepEqual(broken, []);
});

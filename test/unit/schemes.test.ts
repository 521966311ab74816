// endpoints/schemes.ts: the one scheme table; each row loads the registry's type of that name, and parses an address as the registry does.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { register } from 'node:module';

// The registry reaches the web page's bundled assets; stand them in before loading it.
register(new URL('../helpers/stub-web-assets.mjs', import.meta.url));
const { SCHEMES, parseAddresses } = await import('../../src/endpoints/schemes.js');
const { parseEndpoint, registry } = await import('../../src/endpoints/registry.js');
const { UsageError } = await import('../../src/errors.js');

test('the registry is the scheme table with its types loaded: the same order, each row loading that very type, every name once', async () => {
  assert.deepEqual(
    SCHEMES.map((s) => s.scheme),
    registry.map((t) => t.scheme),
  );
  for (const [i, s] of SCHEMES.entries()) assert.equal(await s.load(), registry[i], s.scheme);
  const names = SCHEMES.flatMap((s) => [s.scheme, ...(s.aliases ?? [])]);
  assert.equal(new Set(names).size, names.length, names.join(' '));
});

test('parseAddresses gives what parseEndpoint gives, and the same errors', async () => {
  const uris = [
    'tcp-listen:0?max=3',
    'TCP:127.0.0.1:9',
    '-',
    'tcp-l:1234',
    'exec:echo a%20b?pipes',
    'ws-listen:0?token=none',
    'unix:/tmp/x.sock',
    'serial:/dev/ttyS0?baud=9600',
  ];
  const got = await parseAddresses(uris);
  assert.deepEqual(
    got.map((e) => [e.type, e.spec]),
    uris.map((u) => parseEndpoint(u)).map((e) => [e.type, e.spec]),
  );
  for (const bad of ['tcpp:1', 'http://x/', 'tcp:localhost:1?retry=x', 'nocolon', 'tcp-listen:0?nodelay=maybe']) {
    const want = (() => {
      try {
        parseEndpoint(bad);
      } catch (err) {
        return err as Error;
      }
      throw new Error(`${bad} parsed`);
    })();
    await assert.rejects(parseAddresses([bad]), (err: Error) => err instanceof UsageError && err.message === want.message, bad);
  }
});

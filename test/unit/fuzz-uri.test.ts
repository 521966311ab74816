// Property-based tests of the address grammar: any text parses or is refused with a UsageError, never anything else.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { fuzzRuns } from '../helpers/fuzz-runs.js';
import { UsageError } from '../../src/errors.js';
import { formatHostPort, parseHostPort, percentDecode, quoteUri, splitAddress } from '../../src/uri.js';
import { register } from 'node:module';

// The registry reaches the web page's bundled assets; stand them in before loading it.
register(new URL('../helpers/stub-web-assets.mjs', import.meta.url));
const { parseEndpoint, registry, schemeNames } = await import('../../src/endpoints/registry.js');

const RUNS = fuzzRuns();

/** A message for a terminal: one line, no control characters or escape sequences from user text. */
function assertVisible(message: string): void {
  assert.doesNotMatch(message, /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/, `visible, one line: ${JSON.stringify(message)}`);
}

/** Runs `f`; a UsageError (exit 2, one line) is a fine answer, anything else thrown fails. */
function parsesOrRefuses<T>(f: () => T): T | undefined {
  try {
    return f();
  } catch (err) {
    if (err instanceof UsageError) {
      assert.equal(err.exitCode, 2);
      assertVisible(err.message);
      return undefined;
    }
    throw err;
  }
}

/** Text made of the characters the grammar cares about, so generated inputs hit its branches. */
const grammarChar = fc.constantFrom(
  ...':?&=[]%+-./0123456789abcdefxyzTCP \t\n\u0000\u00e9\ud83d\ude00\ud800'.split(''),
  '%2',
  '%zz',
  '%e9',
  '%C3%A9',
  '::',
  '[::1]',
  '65535',
  '65536',
  '0',
);
const grammarText = fc.array(grammarChar, { maxLength: 40 }).map((a) => a.join(''));
const anyText = fc.oneof(fc.string({ unit: 'binary', maxLength: 80 }), grammarText);

/** Percent-encodes where it can; a lone surrogate goes in raw (the parser must cope with it). */
const encode = (v: string) => {
  try {
    return encodeURIComponent(v);
  } catch {
    return v;
  }
};

const schemes = schemeNames();
const optionNames = [...new Set(registry.flatMap((t) => Object.keys(t.options.shape)))];
const optionKey = fc.oneof(fc.constantFrom(...optionNames, '__proto__', 'constructor', 'toString', ''), anyText);
const optionValue = fc.oneof(
  fc.constantFrom(
    '',
    'true',
    'false',
    'yes',
    '0',
    '1',
    '-1',
    '1e3',
    '0x10',
    '99999999999999999999',
    '16k',
    '1.5M',
    '2s',
    '500ms',
    '1000h',
    '596h',
    '597h',
    '24.8d',
    '2147483647ms',
    '2147483648ms',
    '0.0001ms',
    'NaN',
    'Infinity',
    '0660',
    '%',
    '%00',
  ),
  anyText,
);
/** Addresses shaped like real ones: a known (or mistyped) scheme, a target, a query. */
const structuredUri = fc
  .tuple(
    fc.oneof(
      fc.constantFrom(...schemes),
      fc.constantFrom(...schemes).map((s) => s.toUpperCase()),
      fc.stringMatching(/^[a-z][a-z0-9+.-]{0,12}$/),
    ),
    anyText,
    fc.array(fc.tuple(optionKey, fc.option(optionValue, { nil: undefined })), { maxLength: 4 }),
  )
  .map(([scheme, target, opts]) => {
    const query = opts.map(([k, v]) => (v === undefined ? k : `${k}=${v}`)).join('&');
    return `${scheme}:${target}${opts.length ? `?${query}` : ''}`;
  });

test('splitAddress: any string splits or throws UsageError', () => {
  fc.assert(
    fc.property(fc.oneof(anyText, structuredUri), (uri) => {
      const raw = parsesOrRefuses(() => splitAddress(uri));
      if (!raw) return;
      assert.equal(raw.uri, uri);
      assert.match(raw.scheme, /^[a-z][a-z0-9+.-]*$|^stdio$/);
      assert.ok(!raw.target.includes('?'), 'the target stops at the first ?');
    }),
    { numRuns: RUNS },
  );
});

test('parseHostPort: any target gives a host and a port in range, or a UsageError', () => {
  fc.assert(
    fc.property(anyText, fc.boolean(), (target, listening) => {
      const hp = parsesOrRefuses(() => parseHostPort(target, `tcp:${target}`, { listening }));
      if (!hp) return;
      assert.ok(hp.host.length > 0, 'a host');
      assert.ok(Number.isInteger(hp.port) && hp.port >= (listening ? 0 : 1) && hp.port <= 65535, `port ${hp.port}`);
      if (hp.defaultedHost) assert.equal(hp.host, '127.0.0.1', 'a bare port binds loopback');
    }),
    { numRuns: RUNS },
  );
});

test('parseHostPort: formatHostPort round-trips every host and port', () => {
  const host = fc.oneof(fc.ipV4(), fc.ipV6(), fc.domain());
  fc.assert(
    fc.property(host, fc.integer({ min: 1, max: 65535 }), fc.boolean(), (h, port, listening) => {
      const hp = parseHostPort(formatHostPort(h, port), 'tcp:x', { listening });
      assert.deepEqual(hp, { host: h, port, defaultedHost: false });
    }),
    { numRuns: RUNS },
  );
});

test('parseEndpoint: any address is a valid spec or a UsageError naming the address', () => {
  fc.assert(
    fc.property(fc.oneof(anyText, structuredUri, structuredUri), (uri) => {
      try {
        const ep = parseEndpoint(uri);
        assert.ok(registry.includes(ep.type));
        assert.equal(ep.spec.uri, uri);
        // Only declared options come through.
        for (const key of Object.keys(ep.spec.options as object)) assert.ok(key in ep.type.options.shape, `option ${key} declared`);
      } catch (err) {
        if (!(err instanceof UsageError)) throw err;
        assertVisible(err.message);
        // The message starts with the address (control characters made visible), so the user sees which one.
        // A value that may be a secret under a misspelt key is shown as `…`: the address up to its options still leads.
        // redactSecrets hides after any `&key=` or `?key=`, one in the path too (`unix-connect:&=?=`): hiding too much is harmless.
        const shown = quoteUri(uri);
        const q = shown.search(/[?&]/);
        assert.ok(err.message.startsWith(shown) || (q >= 0 && err.message.includes('…') && err.message.startsWith(shown.slice(0, q + 1))), err.message);
      }
    }),
    // A case the fuzzer found: `&=` in the path makes the redaction start before the `?`.
    { numRuns: fuzzRuns(2), examples: [['unix-connect:&=?=']] },
  );
});

test('parseEndpoint: option values are range-checked, never passed through unchecked', () => {
  fc.assert(
    fc.property(fc.constantFrom(...registry.map((t) => t.scheme)), optionValue, (scheme, value) => {
      const type = registry.find((t) => t.scheme === scheme)!;
      for (const key of Object.keys(type.options.shape)) {
        const uri = `${type.scheme}:${type.role === 'listening' ? '0' : 'localhost:1'}?${key}=${encode(value)}`;
        const ep = parsesOrRefuses(() => parseEndpoint(uri));
        if (!ep) continue;
        const v = (ep.spec.options as Record<string, unknown>)[key];
        if (typeof v === 'number') assert.ok(Number.isFinite(v), `${uri}: ${key}=${v} is finite`);
        // Node fires an oversized timer after 1 ms: a duration past 2^31-1 ms must be refused.
        const meta = (type.options.shape as Record<string, { meta(): unknown }>)[key]!.meta() as { expected?: string } | undefined;
        if (typeof v === 'number' && meta?.expected?.includes('duration')) assert.ok(v <= 2 ** 31 - 1, `${uri}: ${key}=${v} fits a timer`);
      }
    }),
    { numRuns: fuzzRuns(1 / 3) },
  );
});

test('parseEndpoint: a ?token= value never appears in an error message', () => {
  const tokenSchemes = registry.filter((t) => 'token' in t.options.shape).map((t) => t.scheme);
  if (tokenSchemes.length === 0) return;
  const secret = fc.stringMatching(/^[A-Za-z0-9_-]{12,24}$/);
  fc.assert(
    fc.property(
      fc.constantFrom(...tokenSchemes),
      anyText,
      secret,
      fc.array(fc.tuple(optionKey, optionValue), { maxLength: 3 }),
      fc.boolean(),
      (scheme, target, token, opts, tokenFirst) => {
        const rest = opts.map(([k, v]) => `${k}=${v}`);
        const query = (tokenFirst ? [`token=${token}`, ...rest] : [...rest, `token=${token}`]).join('&');
        const uri = `${scheme}:${target}?${query}`;
        try {
          parseEndpoint(uri);
        } catch (err) {
          if (!(err instanceof UsageError)) throw err;
          assert.ok(!err.message.includes(token), `token leaked: ${err.message}`);
        }
      },
    ),
    { numRuns: RUNS },
  );
});

test('values: the target and option values are percent-decoded once; + stays a plus; a stray % stays', () => {
  const exec = parseEndpoint('exec:echo a%3Fb c%20d 100%25 %s+x?cwd=/tmp/d+x&env=A=a+b%26c');
  assert.deepEqual((exec.spec.target as { argv?: string[] }).argv ?? exec.spec.target, ['echo', 'a?b', 'c', 'd', '100%', '%s+x']);
  assert.equal((exec.spec.options as { cwd: string }).cwd, '/tmp/d+x');
  assert.equal(splitAddress('ws-listen:0?token=ab+cd/ef%3D').query.get('token'), 'ab+cd/ef=');
  assert.equal(splitAddress('file:/tmp/x?mode=0%36%36%30').query.get('mode'), '0660');
  // A URL target keeps its own escapes.
  const ws = parseEndpoint('ws://127.0.0.1:1/a%20b');
  assert.match(JSON.stringify(ws.spec.target), /a%20b/);
  // Errors show the decoded value.
  assert.throws(
    () => parseEndpoint('tcp:localhost:1?retry=%33x'),
    (e: Error) => e instanceof UsageError && e.message.endsWith('option "retry" expects an integer 0-1000000, got "3x"'),
  );
  // Bytes that are not UTF-8 are refused with the hint for a literal %.
  assert.throws(
    () => parseEndpoint('file:/tmp/%ff'),
    (e: Error) =>
      e instanceof UsageError && /the target: "\/tmp\/%ff" percent-decodes to bytes that are not UTF-8 \(write %25 for a literal %\)$/.test(e.message),
  );
});

test('values: percentDecode inverts encodeURIComponent for any text, and leaves text without a % alone', () => {
  fc.assert(
    fc.property(fc.string({ maxLength: 40 }), (s) => {
      if (!s.includes('%')) assert.equal(percentDecode(s), s);
      let encoded: string;
      try {
        encoded = encodeURIComponent(s);
      } catch {
        return; // a lone surrogate has no encoding
      }
      assert.equal(percentDecode(encoded), s);
    }),
    { numRuns: RUNS },
  );
});

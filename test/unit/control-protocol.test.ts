// The page's JSON controls, in-process: the shared schema (core/control-protocol.ts) as the server parses them, with the reasons a bad one is closed with.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { serverMessage, type PageMessage } from '../../src/core/control-protocol.js';
import { parseControl } from '../../src/protocols/websockify.js';

test('what the page sends parses to controls; the wire format is unchanged', () => {
  assert.deepEqual(parseControl('{"type":"resize","cols":132,"rows":43}'), { type: 'resize', cols: 132, rows: 43 });
  assert.deepEqual(parseControl('{"type":"break"}'), { type: 'break', ms: 250 });
  assert.deepEqual(parseControl('{"type":"break","ms":0}'), { type: 'break', ms: 0 });
  assert.deepEqual(parseControl('{"type":"take"}'), { type: 'take' });
  assert.deepEqual(parseControl('{"type":"release"}'), { type: 'release' });
  assert.deepEqual(parseControl('{"type":"keyboard"}'), { type: 'keyboard' });
  const state = { type: 'keyboard', you: 'watching', policy: 'exclusive', holder: 'bob', watching: 2, peers: 3 };
  assert.deepEqual(parseControl(JSON.stringify(state)), { type: 'keyboard', state });
  // Flow control: the page's pause and resume (ttyd's flowControl).
  assert.deepEqual(parseControl('{"type":"pause"}'), { type: 'pause' });
  assert.deepEqual(parseControl('{"type":"resume"}'), { type: 'resume' });
});

test("pause and resume are what the page sends and nothing more: the shared schema is the page's type", () => {
  const sent: PageMessage[] = [{ type: 'pause' }, { type: 'resume' }];
  for (const m of sent) assert.deepEqual(parseControl(JSON.stringify(m)), m);
  assert.equal(parseControl('{"type":"pause","bytes":5}'), 'malformed pause (nothing but its type)');
  assert.equal(parseControl('{"type":"resume","x":null}'), 'malformed resume (nothing but its type)');
});

test("credit and ack (the page's window and its acknowledgements) parse; out-of-range ones get their reason", () => {
  const sent: PageMessage[] = [
    { type: 'credit', window: 262144 },
    { type: 'ack', bytes: 32768 },
  ];
  for (const m of sent) assert.deepEqual(parseControl(JSON.stringify(m)), m);
  for (const bad of ['{"type":"credit"}', '{"type":"credit","window":1024}', '{"type":"credit","window":1e9}', '{"type":"credit","window":262144,"x":1}'])
    assert.equal(parseControl(bad), 'malformed credit (window: an integer of bytes, 16384-67108864)', bad);
  for (const bad of ['{"type":"ack"}', '{"type":"ack","bytes":0}', '{"type":"ack","bytes":1.5}', '{"type":"ack","bytes":"9"}'])
    assert.equal(parseControl(bad), 'malformed ack (bytes: a positive integer)', bad);
});

test('a malformed control gets the reason it is closed with', () => {
  const cases: [string, string][] = [
    ['nope', 'malformed control message (not JSON)'],
    ['42', 'malformed control message (not an object)'],
    ['null', 'malformed control message (not an object)'],
    ['{"type":"resize","cols":0,"rows":24}', 'malformed resize (cols and rows must be integers 1-10000)'],
    ['{"type":"resize","cols":80.5,"rows":24}', 'malformed resize (cols and rows must be integers 1-10000)'],
    ['{"type":"resize","cols":80}', 'malformed resize (cols and rows must be integers 1-10000)'],
    ['{"type":"break","ms":10001}', 'malformed break (ms must be 0-10000)'],
    ['{"type":"break","ms":"1"}', 'malformed break (ms must be 0-10000)'],
    ['{"type":"keyboard","you":"boss","policy":"shared","watching":0,"peers":1}', 'malformed keyboard state (you, policy)'],
    ['{"type":"keyboard","extra":1}', 'malformed keyboard state (you, policy)'],
    ['{"type":"keyboard","you":"typing","policy":"shared","watching":-1,"peers":1}', 'malformed keyboard state (watching, peers, holder, name)'],
    [
      `{"type":"keyboard","you":"typing","policy":"shared","watching":0,"peers":1,"name":"${'x'.repeat(201)}"}`,
      'malformed keyboard state (watching, peers, holder, name)',
    ],
    ['{"type":"launch"}', 'unknown control type "launch"'],
    ['{"type":"Pause"}', 'unknown control type "Pause"'],
  ];
  for (const [text, reason] of cases) assert.equal(parseControl(text), reason, text);
});

test('what the page is sent: a keyboard state or its session id; anything else is ignored', () => {
  assert.deepEqual(serverMessage.safeParse({ type: 'session', id: 'abc' }).data, { type: 'session', id: 'abc' });
  assert.equal(serverMessage.safeParse({ type: 'keyboard', you: 'typing', policy: 'shared', watching: 0, peers: 1 }).success, true);
  assert.equal(serverMessage.safeParse({ type: 'session', id: 7 }).success, false);
  assert.equal(serverMessage.safeParse({ type: 'resize', cols: 1, rows: 1 }).success, false);
});

// Who may type, in-process: the policy, each peer's role, and the one keyboard under exclusive (router/keyboard.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { describeKeyboard } from '../../src/core/roles.js';
import type { Role } from '../../src/core/roles.js';
import { Keyboard } from '../../src/router/keyboard.js';
import type { Peer } from '../../src/router/peer.js';

/** What Keyboard reads of a peer: its role, its name, and how it is named to others. */
const peer = (who: string, role: Role = 'full', user?: string) => ({ who, role, user }) as unknown as Peer;

test('shared: every full peer types, a view peer is read-only', () => {
  const k = new Keyboard('shared');
  const [a, v] = [peer('a'), peer('v', 'view')];
  const peers = new Set([a, v]);
  for (const p of peers) k.joined(p);
  assert.deepEqual(k.state(a), { type: 'keyboard', you: 'typing', policy: 'shared', watching: 1, peers: 2 });
  assert.deepEqual(k.state(v), { type: 'keyboard', you: 'read-only', policy: 'shared', watching: 1, peers: 2 });
  assert.equal(k.mayWrite(v), false);
  assert.equal(k.request(a, 'take'), undefined, 'nothing to take under shared');
});

test('exclusive: the first full peer holds the keyboard, another takes it, the holder leaving hands it to the earliest left', () => {
  const k = new Keyboard('exclusive');
  const [v, a, b, c] = [peer('v', 'view'), peer('a', 'full', 'alice'), peer('b'), peer('c')];
  const peers = new Set([v, a, b, c]);
  for (const p of peers) k.joined(p);
  assert.equal(k.holder, a, 'a view peer never holds it');
  assert.deepEqual(k.state(b), { type: 'keyboard', you: 'watching', policy: 'exclusive', holder: 'a', watching: 3, peers: 4 });
  assert.equal(k.state(a).name, 'alice');
  assert.equal(k.request(c, 'take'), a, 'returns the previous holder');
  assert.equal(k.request(c, 'take'), undefined, 'taking what it holds changes nothing');
  assert.equal(k.request(v, 'take'), undefined, 'a view peer cannot take it');
  peers.delete(c);
  assert.equal(k.left(c), a, 'to the earliest that may type');
  assert.equal(k.request(a, 'release'), null);
  assert.equal(k.holder, undefined);
  assert.equal(k.mayWrite(a), false);
});

test('readonly: nobody types', () => {
  const k = new Keyboard('readonly');
  const a = peer('a');
  k.joined(a);
  assert.equal(k.doing(a), 'read-only');
  assert.equal(k.request(a, 'take'), undefined);
});

test('the one line a peer without a page is told', () => {
  const base = { type: 'keyboard', watching: 1, peers: 2 } as const;
  assert.equal(describeKeyboard({ ...base, you: 'read-only', policy: 'shared' }), 'read-only: you are watching');
  assert.equal(describeKeyboard({ ...base, you: 'typing', policy: 'shared' }), 'you may type');
  assert.equal(describeKeyboard({ ...base, you: 'typing', policy: 'exclusive' }), 'you have the keyboard');
  assert.equal(describeKeyboard({ ...base, you: 'watching', policy: 'exclusive', holder: 'bob' }), 'bob has the keyboard; you are watching');
  assert.equal(describeKeyboard({ ...base, you: 'watching', policy: 'exclusive' }), 'nobody has the keyboard; type to take it');
});

// A waiting peer (rendezvous) that is gone before it is parked is let go too, not kept until a partner comes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { Duplex } from 'node:stream';
import { park } from '../../src/router/waiting.js';

const peer = () => new Duplex({ read() {}, write: (_c, _e, cb) => cb() });

test('park: a peer already closed when parked is let go (its close will not come again)', async () => {
  const stream = peer();
  stream.destroy();
  await once(stream, 'close');
  let gone = 0;
  park({ stream, label: 'closed' }, () => gone++);
  assert.equal(gone, 0, 'not before park returns: the caller has not listed the peer yet');
  await new Promise((r) => setImmediate(r));
  assert.equal(gone, 1);
});

test('park: a closed peer taken before its let-go runs is not reported gone (it belongs to the taker now)', async () => {
  const stream = peer();
  stream.destroy();
  await once(stream, 'close');
  let gone = 0;
  const take = park({ stream, label: 'taken' }, () => gone++);
  take();
  await new Promise((r) => setImmediate(r));
  assert.equal(gone, 0);
});

test('park: a peer whose input already ended when parked is closed and let go', async () => {
  const stream = peer();
  stream.on('data', () => {});
  stream.push(null);
  await once(stream, 'end');
  stream.removeAllListeners('data');
  let gone = 0;
  park({ stream, label: 'ended' }, () => gone++);
  await once(stream, 'close');
  await new Promise((r) => setImmediate(r));
  assert.equal(gone, 1);
  assert.ok(stream.destroyed);
});

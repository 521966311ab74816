// Credit flow control's accounting (src/core/credit-window.ts): the server's window of unacknowledged output, the page's batching of acks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AckTally, CreditWindow } from '../../src/core/credit-window.js';

test('the window: room is what is left of it, acks give it back, never more than its size', () => {
  const w = new CreditWindow(1000);
  assert.equal(w.room, 1000);
  w.sent(600);
  assert.equal(w.room, 400);
  w.sent(400);
  assert.equal(w.room, 0);
  assert.equal(w.inFlight, 1000);
  w.acked(250);
  assert.equal(w.room, 250);
  // An ack for more than was ever sent (a page that counted bytes the server did not): all of it, no more.
  w.acked(5000);
  assert.equal(w.inFlight, 0);
  assert.equal(w.room, 1000);
});

test('a window announced after output went out counts that output as unacknowledged', () => {
  const w = new CreditWindow(1000, 1200);
  assert.equal(w.room, 0);
  w.acked(1200);
  assert.equal(w.room, 1000);
});

test('the page acks in batches, and whatever is left once everything handed over is parsed', () => {
  const t = new AckTally(100);
  for (let i = 0; i < 5; i++) t.handed(30);
  assert.equal(t.unparsed, 150);
  assert.equal(t.done(30), 0);
  assert.equal(t.done(30), 0);
  assert.equal(t.done(30), 0);
  assert.equal(t.done(30), 120, 'past the batch: all parsed so far');
  assert.equal(t.done(30), 30, 'nothing left unparsed: the rest at once');
  assert.equal(t.unparsed, 0);
  // A single small write: acked as soon as it is parsed, so a full window can never wait on the page.
  t.handed(7);
  assert.equal(t.done(7), 7);
});

test('page and server together: with writes of any size, the server never has more than the window out, and never stalls', () => {
  const window = 4096;
  const server = new CreditWindow(window);
  const page = new AckTally(window / 8);
  let seed = 7;
  const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) >>> 0) % n) + 1;
  const queue: number[] = []; // handed to xterm.js, not parsed yet
  let toSend = 1_000_000;
  let delivered = 0;
  while (toSend > 0 || queue.length) {
    // The server sends what the window allows, in frames of random size.
    while (toSend > 0 && server.room > 0) {
      const n = Math.min(toSend, server.room, rand(3000));
      server.sent(n);
      assert.ok(server.inFlight <= window);
      toSend -= n;
      page.handed(n);
      queue.push(n);
    }
    assert.ok(queue.length > 0, 'stalled: the window is full and the page holds nothing to parse');
    // The page parses some of it; its acks reach the server.
    for (let k = rand(3); k > 0 && queue.length; k--) {
      const n = queue.shift()!;
      delivered += n;
      const ack = page.done(n);
      if (ack) server.acked(ack);
    }
  }
  assert.equal(delivered, 1_000_000);
  assert.equal(server.inFlight, 0);
});

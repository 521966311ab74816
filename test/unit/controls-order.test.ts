// A keyboard state crosses a join in band: after the bytes the far side sent before it, even those still buffered.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Duplex } from 'node:stream';
import { join } from '../../src/router/pipe.js';
import { createLogger } from '../../src/log.js';
import type { KeyboardState } from '../../src/core/roles.js';
import { until } from '../helpers/until.js';

test('a keyboard state that comes while the screen before it is still buffered is told after that screen, not before it (its reset would wipe the line), and only the latest of several', async () => {
  // The far side (a ws: connection to a hub): its reads are pushed by the test.
  const far = new Duplex({ read() {}, write: (_c, _e, cb) => cb() });
  // The interactive client's terminal: it takes one write at a time when the test says so, and
  // writes the keyboard line in band, as src/endpoints/stdio-tty.ts does.
  const shown: string[] = [];
  const pendingWrites: (() => void)[] = [];
  const terminal = new Duplex({
    read() {},
    highWaterMark: 1,
    write(chunk: Buffer, _e, cb) {
      shown.push(chunk.toString());
      pendingWrites.push(cb);
    },
  });
  const tell = (s: KeyboardState) => terminal.write(`[${s.holder} has the keyboard]`);
  const j = join({ stream: far, label: 'far' }, { stream: terminal, label: 'terminal', tell }, { log: createLogger('error') });

  far.push('login: ');
  await until(() => shown.length === 1);
  // The terminal is busy with the first write: the screen waits in the far side's buffer.
  far.push('\x1b[H\x1b[2Jthe screen');
  await until(() => far.readableLength > 0 && far.isPaused());
  // Two changes while it waits: only where the keyboard is now is told (one waiting state, however many come).
  const state: KeyboardState = { type: 'keyboard', you: 'watching', policy: 'exclusive', holder: 'ws 127.0.0.1:2', watching: 1, peers: 2 };
  far.emit('control', { type: 'keyboard', state: { ...state, holder: 'ws 127.0.0.1:1' } });
  far.emit('control', { type: 'keyboard', state });
  while (shown.length < 3) {
    pendingWrites.shift()?.();
    await new Promise((r) => setImmediate(r));
  }
  // Whatever else was told would now reach the terminal too.
  for (let i = 0; i < 5; i++) {
    pendingWrites.splice(0).forEach((cb) => cb());
    await new Promise((r) => setImmediate(r));
  }
  assert.deepEqual(shown, ['login: ', '\x1b[H\x1b[2Jthe screen', '[ws 127.0.0.1:2 has the keyboard]']);
  far.destroy();
  terminal.destroy();
  await j.done;
});

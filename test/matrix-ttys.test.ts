// The matrix, terminal rows: pty, serial on a pty, exec:?share × every door × its real client (see test/helpers/matrix.ts).
import { test } from 'node:test';
import { DOORS, execShare, REAL_TELNET, runCell, vmDevice } from './helpers/matrix.js';

// Every cell makes sense for these kinds; each comes back after its loss (the VM re-makes its
// link; the shared command is restarted).
const KINDS = [vmDevice('pty'), vmDevice('serial'), execShare];

test('devices that come back × every door', { concurrency: 5 }, async (t) => {
  await Promise.all(KINDS.flatMap((kind) => DOORS.map((door) => t.test(`${kind.name} × ${door.name}`, { timeout: 60_000 }, () => runCell(kind, door)))));
});

// The telnet client people type into, on the kinds a person types into (its keys are text).
test('pty and exec:?share × tcp-listen?telnet × /usr/bin/telnet in tmux', { concurrency: 2 }, async (t) => {
  await Promise.all([vmDevice('pty'), execShare].map((kind) => t.test(kind.name, { timeout: 60_000 }, () => runCell(kind, REAL_TELNET))));
});

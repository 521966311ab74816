// The matrix, terminal rows: pty, serial on a pty, exec:?share × every door × its real client (see test/helpers/matrix.ts).
import { test } from 'node:test';
import { DOORS, execShare, runCell, vmDevice } from './helpers/matrix.js';

// Every cell makes sense for these kinds; each comes back after its loss (the VM re-makes its
// link; the shared command is restarted).
const KINDS = [vmDevice('pty'), vmDevice('serial'), execShare];

test('devices that come back × every door', { concurrency: 5 }, async (t) => {
  await Promise.all(KINDS.flatMap((kind) => DOORS.map((door) => t.test(`${kind.name} × ${door.name}`, { timeout: 60_000 }, () => runCell(kind, door)))));
});

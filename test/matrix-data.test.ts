// The matrix, data rows: file:, stdio × every door × its real client (see test/helpers/matrix.ts).
import { test } from 'node:test';
import { DOORS, fileDevice, runCell, stdioDevice } from './helpers/matrix.js';

// Neither comes back, and neither needs to: the end of a file's content or of stdin is only the
// end of its output; typing still reaches it (#12.2, #13.13). stdio exists once per process,
// so each cell runs its own ptybridge; udp-listen holds one session, so its late joiner takes
// the session over and gets no replay.
const KINDS = [fileDevice, stdioDevice];

test('devices whose end is not a loss × every door', { concurrency: 5 }, async (t) => {
  await Promise.all(KINDS.flatMap((kind) => DOORS.map((door) => t.test(`${kind.name} × ${door.name}`, { timeout: 60_000 }, () => runCell(kind, door)))));
});

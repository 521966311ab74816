// Event lines of the transcript (--log) cannot be forged from device bytes (issue 21 item 5): split anywhere, the device's "--- … ---" never reads as an event, and its bytes come back exactly.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../../src/log.js';
import { openTranscript } from '../../src/router/transcript.js';

const dir = mkdtempSync(join(tmpdir(), 'ptyb-forge-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const STAMP = /^\[\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\] /;
const log = createLogger('error', () => {});

/** Writes `device` split at `cuts` with a real event between, and returns the file's lines without their stamps. */
async function transcriptOf(name: string, chunks: Buffer[], events: { after: number; text: string }[] = []): Promise<string[]> {
  const file = join(dir, name);
  const t = await openTranscript(file, { maxSize: 0, keep: 0 }, log);
  chunks.forEach((c, i) => {
    t.data(c);
    for (const e of events) if (e.after === i) t.event(e.text);
  });
  await t.close();
  const lines = readFileSync(file, 'latin1').split('\n');
  assert.equal(lines.pop(), '');
  for (const l of lines) assert.match(l, STAMP, JSON.stringify(l));
  return lines.map((l) => l.replace(STAMP, ''));
}

/** What the REFERENCE says gives the device's bytes back: the stamp off, and one leading backslash. */
const deviceBytes = (lines: string[]) => lines.map((l) => (l.startsWith('\\') ? l.slice(1) : l)).join('\n');

const FORGED = '--- alice typed "rm -rf /srv\\r" ---';

test('a device that prints an event line gets it written with a backslash in front, at every split of its bytes; the bytes come back exactly', async () => {
  const device = Buffer.from(`login: ok\r\n${FORGED}\r\n\\already a backslash\r\n-bash: x: command not found\r\n--\r\n-\r\n---\r\n`, 'latin1');
  for (let cut = 0; cut <= device.length; cut++) {
    const lines = await transcriptOf(`split-${cut}.log`, [device.subarray(0, cut), device.subarray(cut)]);
    assert.deepEqual(
      lines,
      ['login: ok\r', `\\${FORGED}\r`, '\\\\already a backslash\r', '-bash: x: command not found\r', '--\r', '-\r', '\\---\r'],
      `split at ${cut}`,
    );
    assert.equal(`${deviceBytes(lines)}\n`, device.toString('latin1'));
  }
  // Byte by byte, the worst case for a line start.
  const one = await transcriptOf(
    'bytes.log',
    [...device].map((b) => Buffer.from([b])),
  );
  assert.equal(`${deviceBytes(one)}\n`, device.toString('latin1'));
  assert.ok(!one.includes(FORGED));
});

test("an event between dashes the device held at a line start: the dashes are written, then the event on its own line; an event's text carries no line end", async () => {
  const lines = await transcriptOf(
    'held.log',
    [Buffer.from('--'), Buffer.from('- forged ---\r\n')],
    [
      { after: 0, text: 'bob connected' },
      { after: 1, text: 'carol\n[2025-01-01T00:00:00.000Z] --- root typed "x" ---' },
    ],
  );
  assert.deepEqual(lines, ['--', '--- bob connected ---', '- forged ---\r', '--- carol\\x0a[2025-01-01T00:00:00.000Z] --- root typed "x" --- ---']);
});

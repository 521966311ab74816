// The page's history model (src/web/history-model.ts): boots from a listing, a torn last line left out, positions and times, marks, search and the copied text.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bootsOf, HistoryModel, parseCastText } from '../../src/web/history-model.js';

const header = (ts: number, boot = true, w = 80, h = 24) =>
  JSON.stringify({ version: 2, width: w, height: h, timestamp: ts, ptybridge: { console: 'b', boot } });

test('boots: a boot file starts one, continuation files join it; a listing that starts with a continuation starts a boot', () => {
  const f = (name: string, boot: boolean) => ({ name, start: name, size: 1, boot });
  assert.deepEqual(
    bootsOf([f('a', false), f('b', true), f('c', false), f('d', true)]).map((b) => b.files.map((x) => x.name)),
    [['a'], ['b', 'c'], ['d']],
  );
});

test('a torn last line is left out; a bad line before it is an error naming it', () => {
  const text = `${header(1000)}\n[0.0, "m", "boot"]\n[0.5, "o", "hi\\r\\n"]\n[0.7, "o", "tor`;
  assert.equal(parseCastText(text).events.length, 2);
  assert.throws(() => parseCastText(`${header(1000)}\n[0.0, "m"\n[1, "o", "x"]\n`), /line 2/);
});

test('positions, marks, search and copy across the files of a boot', () => {
  const first = parseCastText(
    `${header(1000)}\n[0.0, "m", "boot"]\n[1.0, "o", "U-Boot 2024.01\\r\\nDRAM\\r\\n"]\n[1.0, "m", "mark: U-Boot 2024"]\n[2.0, "o", "\\u001b[1mStarting\\u001b[0m kernel\\r\\nLin"]\n`,
  );
  const second = parseCastText(`${header(1002.5, false, 100, 30)}\n[0.5, "o", "ux version 6\\r\\nlogin: "]\n[1.0, "m", "mark by ws 127.0.0.1:5: mark"]\n`);
  const m = new HistoryModel([first, second]);
  assert.equal(m.baseMs, 1_000_000);
  // The continuation file's size is a resize at its start.
  assert.deepEqual(
    m.events.map((e) => [e.t, e.code, e.file]),
    [
      [0, 'm', 0],
      [1, 'o', 0],
      [1, 'm', 0],
      [2, 'o', 0],
      [2.5, 'r', 1],
      [3, 'o', 1],
      [3.5, 'm', 1],
    ],
  );
  assert.deepEqual(
    m.marks.map((k) => [k.position, k.kind, k.label]),
    [
      [1, 'boot', 'boot'],
      [3, 'match', 'mark: U-Boot 2024'],
      [7, 'peer', 'mark by ws 127.0.0.1:5: mark'],
    ],
  );
  assert.equal(m.duration, 3.5);
  assert.equal(m.positionAt(0.9), 1);
  assert.equal(m.positionAt(1), 3);
  assert.equal(m.timeAt(4), 2);
  assert.equal(m.fileAt(0), 0);
  assert.equal(m.fileAt(6), 1);
  // A line printed across two files is found where it was finished.
  assert.deepEqual(m.search('LINUX version'), [{ position: 6, t: 3, line: 'Linux version 6' }]);
  assert.deepEqual(
    m.search('kernel').map((x) => x.position),
    [4],
  );
  assert.deepEqual(m.search(''), []);
  assert.equal(m.textBetween(3, 7), 'Starting kernel\nLinux version 6\nlogin: \n');
  assert.equal(m.textBetween(7, 3), m.textBetween(3, 7));
  assert.equal(m.textBetween(0, 3), 'U-Boot 2024.01\nDRAM\n');
});

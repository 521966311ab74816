// The history reader (docs/HISTORY-FORMAT.md): asciicast v2 lines, torn last lines, file order in a console's directory, --since, and plain text for grep.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CastFormatError, type CastEvent, OutputJoiner, openCast, parseCastEvent, parseCastHeader, readCastHeader } from '../../src/core/asciicast.js';
import { type HistoryEntry, listHistoryFiles, parseHistoryName, parseSince, readHistoryHeaders, selectSince } from '../../src/core/history-files.js';
import { PlainText } from '../../src/core/terminal-text.js';

const HEADER =
  '{"version": 2, "width": 80, "height": 24, "timestamp": 1700000000, "title": "b", "ptybridge": {"console": "b", "boot": true, "device": "pty:/dev/pts/4"}}';

async function eventsOf(text: string): Promise<CastEvent[]> {
  const dir = mkdtempSync(join(tmpdir(), 'ptyb-cast-'));
  const path = join(dir, 'x.cast');
  writeFileSync(path, text);
  const f = await openCast(path);
  const out: CastEvent[] = [];
  for await (const e of f.events) out.push(e);
  return out;
}

test('header: version 2 with width and height; ptybridge fields and idle_time_limit kept; v1 and others refused with what is wrong', () => {
  const h = parseCastHeader(HEADER);
  assert.deepEqual(h, {
    version: 2,
    width: 80,
    height: 24,
    timestamp: 1700000000,
    title: 'b',
    ptybridge: { console: 'b', boot: true, device: 'pty:/dev/pts/4' },
  });
  assert.equal(parseCastHeader('{"version":2,"width":1,"height":1,"idle_time_limit":2.5}').idleTimeLimit, 2.5);
  assert.throws(() => parseCastHeader('{"version":3,"term":{"cols":80,"rows":24}}'), /"version": 2, got "version": 3$/);
  assert.throws(() => parseCastHeader('{"version":1,"width":80,"height":24,"stdout":[]}'), /"version": 2, got "version": 1 \(asciicast v1/);
  assert.throws(() => parseCastHeader('{"version":2,"width":0,"height":24}'), /"width" must be a positive integer, got 0/);
  assert.throws(() => parseCastHeader('[0.1, "o", "x"]'), /expected a JSON object/);
  assert.throws(() => parseCastHeader('hello'), /not JSON: "hello"/);
});

test('event: [time, code, data]; a negative time, a short array or non-string data is refused', () => {
  assert.deepEqual(parseCastEvent('[0.25, "o", "a\\u001b[0m"]', 3), { time: 0.25, code: 'o', data: 'a\x1b[0m', line: 3 });
  assert.throws(() => parseCastEvent('[-1, "o", "x"]'), /time must be a number of seconds >= 0, got -1/);
  assert.throws(() => parseCastEvent('[1, "o"]'), /expected an event \[time, code, data\]/);
  assert.throws(() => parseCastEvent('[1, "o", 5]'), /code and data must be strings/);
});

test('a torn last line is left out, a whole last line without its newline is kept, blank lines skipped; a bad line inside names file and line', async () => {
  const torn = await eventsOf(`${HEADER}\n[0.1, "o", "a"]\n\n[0.2, "o", "b"]\n[0.3, "o", "c`);
  assert.deepEqual(
    torn.map((e) => [e.line, e.data]),
    [
      [2, 'a'],
      [4, 'b'],
    ],
  );
  const whole = await eventsOf(`${HEADER}\n[0.1, "o", "a"]\n[0.2, "o", "b"]`);
  assert.deepEqual(
    whole.map((e) => e.data),
    ['a', 'b'],
  );
  await assert.rejects(eventsOf(`${HEADER}\n[0.1, "o", "a"]\n[0.2, "o", "b\n[0.3, "o", "c"]\n`), (err: Error) => {
    assert.ok(err instanceof CastFormatError);
    assert.match(err.message, /x\.cast: line 3: not an asciicast v2 event \(not JSON/);
    return true;
  });
  await assert.rejects(eventsOf(''), /line 1: empty file/);
  await assert.rejects(eventsOf('{"version": 2, "wid'), /line 1: the header line is incomplete/);
});

test('lines longer than a read chunk and multi-byte characters across chunk edges come back whole', async () => {
  // 300 000 "é" (600 000 bytes of UTF-8) in one event, across 256 KiB reads at odd offsets.
  const big = 'é'.repeat(300_000);
  const events = await eventsOf(`${HEADER}\n[0.1, "o", "x"]\n${JSON.stringify([0.2, 'o', big])}\n[0.3, "o", "🙂"]\n`);
  assert.equal(events.length, 3);
  assert.equal(events[1]!.data, big);
  assert.equal(events[2]!.data, '🙂');
});

test('OutputJoiner puts a surrogate pair split across events back together; a lone half stays for the encoder', () => {
  const j = new OutputJoiner();
  assert.equal(j.push('a\ud83d'), 'a');
  assert.equal(j.push('\ude00b'), '\u{1F600}b');
  assert.equal(j.push('\ud83d'), '');
  assert.equal(j.end(), '\ud83d');
  assert.equal(Buffer.from('\ud83d').toString('hex'), 'efbfbd');
});

test('history file names: start time and collision number; listed oldest first, -N after the plain name, -10 after -2; other names ignored', async () => {
  assert.deepEqual(parseHistoryName('2026-12-05T23-00-00.123Z.cast'), { startMs: Date.UTC(2026, 11, 5, 23, 0, 0, 123), seq: 0 });
  assert.deepEqual(parseHistoryName('2026-12-05T23-00-00.123Z-10.cast')?.seq, 10);
  assert.equal(parseHistoryName('notes.cast'), undefined);
  assert.equal(parseHistoryName('2026-12-05T23-00-00.123Z.cast.tmp'), undefined);
  const dir = mkdtempSync(join(tmpdir(), 'ptyb-hist-'));
  const names = [
    '2026-12-05T23-00-00.000Z-10.cast',
    '2026-12-05T23-00-00.000Z-2.cast',
    '2026-12-05T23-00-00.000Z.cast',
    '2026-12-05T22-59-59.999Z.cast',
    'README',
    'other.cast',
  ];
  for (const n of names) writeFileSync(join(dir, n), `${HEADER}\n`);
  assert.deepEqual(
    (await listHistoryFiles(dir)).map((f) => f.name),
    ['2026-12-05T22-59-59.999Z.cast', '2026-12-05T23-00-00.000Z.cast', '2026-12-05T23-00-00.000Z-2.cast', '2026-12-05T23-00-00.000Z-10.cast'],
  );
});

test('--since: boot, N-boots-ago, ISO times (Z, offset, local, file-name form) and -DURATION; anything else undefined', () => {
  const now = Date.UTC(2026, 11, 5, 23, 0, 0);
  assert.deepEqual(parseSince('boot', now), { kind: 'boots-ago', n: 0 });
  assert.deepEqual(parseSince('last-boot', now), { kind: 'boots-ago', n: 0 });
  assert.deepEqual(parseSince('2-boots-ago', now), { kind: 'boots-ago', n: 2 });
  assert.deepEqual(parseSince('1-boot-ago', now), { kind: 'boots-ago', n: 1 });
  assert.deepEqual(parseSince('2026-12-05T22:00:00Z', now), { kind: 'time', ms: Date.UTC(2026, 11, 5, 22) });
  assert.deepEqual(parseSince('2026-12-05T22-00-00.500Z', now), { kind: 'time', ms: Date.UTC(2026, 11, 5, 22, 0, 0, 500) });
  assert.deepEqual(parseSince('2026-12-05T23:30:00+01:00', now), { kind: 'time', ms: Date.UTC(2026, 11, 5, 22, 30) });
  assert.deepEqual(parseSince('2026-12-05 22:00', now), { kind: 'time', ms: new Date(2026, 11, 5, 22, 0).getTime() });
  assert.deepEqual(parseSince('2026-12-05', now), { kind: 'time', ms: new Date(2026, 11, 5).getTime() });
  assert.deepEqual(parseSince('-10m', now), { kind: 'time', ms: now - 600_000 });
  assert.deepEqual(parseSince('-1h30m', now), { kind: 'time', ms: now - 5_400_000 });
  assert.deepEqual(parseSince('-2d', now), { kind: 'time', ms: now - 2 * 86_400_000 });
  for (const bad of ['yesterday', '-10', '-', '10m', 'boots-ago', '2026-13-45T00:00:00Z', '2026-12-05T22']) assert.equal(parseSince(bad, now), undefined, bad);
});

function entry(name: string, boot: boolean): HistoryEntry {
  const p = parseHistoryName(name)!;
  return { path: name, name, ...p, boot, baseMs: p.startMs, header: { version: 2, width: 80, height: 24, ptybridge: { boot } } };
}

test('selectSince: from the Nth boot from the end, size-step files after it included; a time skips files that ended before it; too few boots say so', () => {
  const files = [
    entry('2026-12-05T20-00-00.000Z.cast', true),
    entry('2026-12-05T20-30-00.000Z.cast', false),
    entry('2026-12-05T21-00-00.000Z.cast', true),
    entry('2026-12-05T22-00-00.000Z.cast', true),
    entry('2026-12-05T22-10-00.000Z.cast', false),
  ];
  const names = (s: { files: HistoryEntry[] }) => s.files.map((f) => f.name.slice(11, 16));
  assert.deepEqual(names(selectSince(files, undefined)), ['20-00', '20-30', '21-00', '22-00', '22-10']);
  assert.deepEqual(names(selectSince(files, { kind: 'boots-ago', n: 0 })), ['22-00', '22-10']);
  assert.deepEqual(names(selectSince(files, { kind: 'boots-ago', n: 1 })), ['21-00', '22-00', '22-10']);
  assert.deepEqual(names(selectSince(files, { kind: 'boots-ago', n: 2 })), ['20-00', '20-30', '21-00', '22-00', '22-10']);
  const tooMany = selectSince(files, { kind: 'boots-ago', n: 3 });
  assert.equal(tooMany.files.length, 5);
  assert.match(tooMany.note!, /^3-boots-ago: only 3 boots are recorded; showing everything from the oldest file, 2026-12-05T20-00-00\.000Z\.cast$/);
  const pruned = selectSince(files.slice(1, 2), { kind: 'boots-ago', n: 0 });
  assert.match(pruned.note!, /the last boot: no boot start is recorded/);
  const t = selectSince(files, { kind: 'time', ms: Date.UTC(2026, 11, 5, 21, 30) });
  assert.deepEqual(names(t), ['21-00', '22-00', '22-10']);
  assert.equal(t.fromMs, Date.UTC(2026, 11, 5, 21, 30));
  // A file whose successor started less than a second before the time is kept (whole-second header timestamps).
  assert.deepEqual(names(selectSince(files, { kind: 'time', ms: Date.UTC(2026, 11, 5, 22, 0, 0, 500) })), ['21-00', '22-00', '22-10']);
  assert.deepEqual(names(selectSince([{ ...files[0]!, header: undefined, problem: 'bad' }, files[2]!], undefined)), ['21-00']);
});

test('readHistoryHeaders: boot from the header (a foreign recording counts as a boot), times from its timestamp; a bad header is a problem, not a throw', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ptyb-hdr-'));
  writeFileSync(join(dir, '2026-12-05T20-00-00.000Z.cast'), `${HEADER}\n`);
  writeFileSync(join(dir, '2026-12-05T20-30-00.000Z.cast'), '{"version": 2, "width": 80, "height": 24, "ptybridge": {"boot": false}}\n');
  writeFileSync(join(dir, '2026-12-05T21-00-00.000Z.cast'), '{"version": 2, "width": 80, "height": 24}\n');
  writeFileSync(join(dir, '2026-12-05T22-00-00.000Z.cast'), 'garbage\n');
  const e = await readHistoryHeaders(await listHistoryFiles(dir));
  assert.deepEqual(
    e.map((x) => [x.boot, x.baseMs, x.problem === undefined]),
    [
      [true, 1700000000000, true],
      [false, Date.UTC(2026, 11, 5, 20, 30), true],
      [true, Date.UTC(2026, 11, 5, 21), true],
      [false, Date.UTC(2026, 11, 5, 22), false],
    ],
  );
  assert.match(e[3]!.problem!, /2026-12-05T22-00-00\.000Z\.cast: line 1: not an asciicast v2 header/);
});

test('PlainText: CSI, OSC (BEL and ST), DCS, charset and keypad escapes removed, also split across pushes; CR dropped, backspace applied, lines whole', () => {
  const p = new PlainText();
  let out = '';
  const feed =
    '\x1b[1;32mOK\x1b[0m \x1b]0;title\x07boot\r\n\x1b(Bab\x1b=c\x1bP1$r0m\x1b\\d\r\nro\x08\x08root\x1b[2K\r\n\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\ é🙂\ttab\x07\r\nlast';
  for (const ch of feed) out += p.push(ch); // one character at a time: every sequence split
  out += p.end();
  assert.equal(out, 'OK boot\nabcd\nroot\nlink é🙂\ttab\nlast\n');
  const q = new PlainText();
  assert.equal(q.push('\x1b[31mred\r\nhalf\x1b['), 'red\n');
  assert.equal(q.end(), 'half\n');
  assert.equal(q.push('0mnew\n'), '0mnew\n'); // end() forgot the cut sequence: a new boot's text is not swallowed
});

test('reading only the header, or stopping before the events, closes the file (a directory of 200 files must not hold 200 fds until GC)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ptyb-fd-'));
  const path = join(dir, 'x.cast');
  writeFileSync(path, `${HEADER}\n[0.1, "o", "a"]\n[0.2, "o", "b"]\n`);
  const fds = () => readdirSync('/proc/self/fd').length;
  const before = fds();
  for (let i = 0; i < 200; i++) await readCastHeader(path);
  const f = await openCast(path);
  await f.events.next();
  await f.close();
  assert.equal(fds(), before);
});

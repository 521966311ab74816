// `ptybridge play` and `ptybridge history` as real processes on history files written as docs/HISTORY-FORMAT.md says: exact bytes, Debian's asciinema as the reference, a real terminal given back after q, Ctrl-C and SIGTERM, and a 100 MiB file in bounded memory.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createWriteStream, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PTYBRIDGE, runPtyb, runTool, sha256, spawnTracked } from './helpers/ptyb.js';
import { inTmux } from './helpers/tmux.js';
import { until } from './helpers/until.js';

type Ev = [time: number, code: string, data: string];
interface Fixture {
  /** Seconds after BASE the file starts (its name and header timestamp). */
  at: number;
  boot: boolean;
  events: Ev[];
  /** A last line cut mid-way (the recorder was killed). */
  torn?: string;
  /** The `-N` of a name that collided. */
  seq?: number;
}

// Whole seconds, hours ago: --since -DURATION lands between the files.
const BASE = Math.floor(Date.now() / 1000) - 5 * 3600;
const iso = (ms: number) => new Date(ms).toISOString();
const nameOf = (f: Fixture) => `${iso((BASE + f.at) * 1000).replace(/:/g, '-')}${f.seq ? `-${f.seq}` : ''}.cast`;
const header = (ts: number, boot: boolean) =>
  `{"version": 2, "width": 80, "height": 24, "timestamp": ${ts}, "title": "board", "ptybridge": {"console": "board", "boot": ${boot}, "device": "pty:/dev/pts/4"}}`;
const line = ([t, code, data]: Ev) => `[${t.toFixed(6)}, ${JSON.stringify(code)}, ${JSON.stringify(data)}]`;
const castText = (f: Fixture) => `${[header(BASE + f.at, f.boot), ...f.events.map(line)].join('\n')}\n${f.torn ?? ''}`;

const FILES: Fixture[] = [
  {
    at: 0,
    boot: true,
    events: [
      [0, 'm', 'boot'],
      [0.1, 'o', 'U-Boot 2024.01 (Dec 05 2026)\r\n'],
      [0.35, 'o', '\x1b[1;32mDRAM:\x1b[0m  512 MiB\r\n'],
      // 1.005 s is 1004.999… ms in binary: --marks still says 1.005, so that play --at 1.005 plays it.
      [1.005, 'm', 'mark: DRAM'],
      [1.2, 'm', 'mark: Linux version'],
      [1.2, 'o', '[    0.000000] Linux version 6.1.0\r\n'],
      [2, 'o', 'login: '],
    ],
  },
  {
    // The size step: the same boot goes on in a new file.
    at: 1800,
    boot: false,
    events: [
      [0, 'o', 'root\r\n# '],
      [0.5, 'r', '120x40'],
      [0.6, 'm', 'typed by alice'],
      [0.6, 'i', 'ls\r'],
      [0.7, 'o', 'ls\r\nbin  etc 🙂\r\n# '],
      [3, 'm', 'device lost: EIO'],
    ],
  },
  {
    at: 3600,
    boot: true,
    events: [
      [0, 'm', 'boot'],
      [0.1, 'o', 'U-Boot again caf'],
      // A character split across events: a surrogate pair written half in each (JSON escapes).
      [0.2, 'o', 'é \ud83d'],
      [0.3, 'o', '\ude00 ok\r\n'],
      [0.5, 'm', 'mark by alice: before\treboot'],
      [0.6, 'o', 'Kernel panic - not syncing\r\n'],
    ],
  },
  {
    // Two boots in the same millisecond: the second name gets -1, and sorts after the first.
    at: 3600,
    seq: 1,
    boot: true,
    events: [
      [0, 'm', 'boot'],
      [0.1, 'o', 'second boot in the same ms\r\n'],
    ],
  },
  {
    at: 4 * 3600 + 1800,
    boot: true,
    events: [
      [0, 'm', 'boot'],
      [0.1, 'o', 'U-Boot 2024.01\r\n'],
      [0.2, 'o', '\x1b]0;board\x07half line'],
    ],
    torn: '[0.300000, "o", "never writ',
  },
];

const outputOf = (fs: Fixture[], from = -Infinity) =>
  Buffer.from(fs.flatMap((f) => f.events.filter(([t, c]) => c === 'o' && BASE + f.at + t >= from).map(([, , d]) => d)).join(''));

function writeFixtures(): { root: string; dir: string; paths: string[] } {
  const root = mkdtempSync(join(tmpdir(), 'ptyb-hist-'));
  const dir = join(root, 'board');
  mkdirSync(dir);
  // Written newest first, so that the order comes from the names, not from the disk.
  const paths = FILES.map((f) => join(dir, nameOf(f)));
  for (let i = FILES.length - 1; i >= 0; i--) writeFileSync(paths[i]!, castText(FILES[i]!));
  writeFileSync(join(dir, 'notes.txt'), 'not a recording\n');
  return { root, dir, paths };
}

async function ok(args: string[]): Promise<Buffer> {
  const r = await runPtyb(args);
  assert.equal(r.code, 0, `ptybridge ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

test("play --max writes each file's output bytes exactly; a split character is joined, a torn last line left out; --speed, --idle-limit and --at change the pace, not the bytes", async () => {
  const { paths } = writeFixtures();
  for (const [i, p] of paths.entries()) {
    const out = await ok(['play', '--max', p]);
    assert.equal(sha256(out), sha256(outputOf([FILES[i]!])), `file ${i}: ${JSON.stringify(out.toString())}`);
  }
  assert.equal(
    (await ok(['play', '--max', paths[2]!])).toString('hex'),
    Buffer.from('U-Boot again café 😀 ok\r\nKernel panic - not syncing\r\n').toString('hex'),
  );
  assert.equal((await ok(['play', '--max', paths[4]!])).toString(), 'U-Boot 2024.01\r\n\x1b]0;board\x07half line');
  const paced = [
    ['play', paths[0]!, '--speed', '4'],
    ['play', paths[0]!, '--idle-limit', '0.05'],
    ['play', '--at', '1.5', paths[0]!],
    ['play', '--at=100', paths[1]!, '-s', '0.5'],
  ];
  for (const args of paced) assert.equal(sha256(await ok(args)), sha256(outputOf([FILES[args.includes(paths[1]!) ? 1 : 0]!])), args.join(' '));
});

test("play: --at skips an hour of silence at once, --idle-limit and the header's idle_time_limit cap it (else these would take an hour)", async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ptyb-idle-'));
  const long = join(dir, 'long.cast');
  writeFileSync(long, `${header(BASE, true)}\n[0.0, "o", "before "]\n[3600.0, "o", "after an hour"]\n[3600.1, "o", "!"]\n`);
  const capped = join(dir, 'capped.cast');
  writeFileSync(capped, `{"version": 2, "width": 80, "height": 24, "idle_time_limit": 0.1}\n[0.0, "o", "a"]\n[3600.0, "o", "b"]\n`);
  assert.equal((await ok(['play', long, '--at', '3599.9'])).toString(), 'before after an hour!');
  assert.equal((await ok(['play', long, '--idle-limit', '0.2'])).toString(), 'before after an hour!');
  assert.equal((await ok(['play', capped])).toString(), 'ab');
});

test("play --max matches Debian's asciinema cat byte for byte (its own idea of a torn file: the complete lines)", async (t) => {
  if ((await runTool('sh', ['-c', 'command -v asciinema && command -v script'])).code !== 0)
    return t.skip('asciinema or script (util-linux) is not installed (apt-get install asciinema)');
  const { paths } = writeFixtures();
  const work = mkdtempSync(join(tmpdir(), 'ptyb-asciinema-'));
  // File 2 holds a surrogate pair split across events: asciinema cat dies on it (UnicodeEncodeError), so it is not a reference there.
  const torn = join(work, 'torn-complete-lines.cast');
  writeFileSync(torn, castText({ ...FILES[4]!, torn: '' }));
  const extra = join(work, 'rich.cast');
  writeFileSync(
    extra,
    castText({
      at: 0,
      boot: true,
      events: [
        [0, 'o', '\x1b[?1049h\x1b[H\x1b[2J'],
        [0.1, 'o', 'ünïcödé ✓ 日本語 🙂\r\n\ttab\x07\b\x00nul'],
        [0.2, 'o', '\ufffd replaced \x7f'],
      ],
    }),
  );
  for (const p of [paths[0]!, paths[1]!, paths[3]!, torn, extra]) {
    const ref = join(work, 'ref.out');
    // asciinema cat reads keys from /dev/tty: script gives it one; its stdout goes straight to a file.
    const r = await runTool('script', ['-qec', `asciinema cat '${p}' > '${ref}'`, '/dev/null'], { env: { ...process.env, LANG: 'C.UTF-8' } });
    assert.equal(r.code, 0, `asciinema cat ${p}: ${r.stdout} ${r.stderr}`);
    const ours = await ok(['play', '--max', p]);
    assert.equal(ours.toString('hex'), readFileSync(ref).toString('hex'), p);
  }
  assert.equal((await ok(['play', '--max', paths[4]!])).toString('hex'), (await ok(['play', '--max', torn])).toString('hex'));
});

test('history DIR: every file in order (-1 after its twin, other names ignored); --since boot, N-boots-ago, a time, -DURATION; a single .cast file', async () => {
  const { dir, paths } = writeFixtures();
  const all = await ok(['history', dir]);
  assert.equal(sha256(all), sha256(outputOf(FILES)), JSON.stringify(all.toString()));
  assert.equal((await ok(['history', dir, '--since', 'boot'])).toString(), 'U-Boot 2024.01\r\n\x1b]0;board\x07half line');
  assert.equal(sha256(await ok(['history', dir, '--since', 'last-boot'])), sha256(outputOf(FILES.slice(4))));
  assert.equal(sha256(await ok(['history', dir, '--since', '1-boots-ago'])), sha256(outputOf(FILES.slice(3))));
  assert.equal(sha256(await ok(['history', dir, '--since', '2-boots-ago'])), sha256(outputOf(FILES.slice(2))));
  // The first boot goes on in its size-step file.
  assert.equal(sha256(await ok(['history', dir, '--since', '3-boots-ago'])), sha256(outputOf(FILES)));
  const tooFar = await runPtyb(['history', dir, '--since', '9-boots-ago']);
  assert.equal(tooFar.code, 0);
  assert.equal(sha256(tooFar.stdout), sha256(outputOf(FILES)));
  assert.equal(tooFar.stderr, `ptybridge: history: 9-boots-ago: only 4 boots are recorded; showing everything from the oldest file, ${nameOf(FILES[0]!)}\n`);
  // A time inside the first file: from its 1.2 s event on, across the rest.
  const from = BASE + 1;
  assert.equal(sha256(await ok(['history', dir, '--since', iso(from * 1000)])), sha256(outputOf(FILES, from)));
  assert.equal(sha256(await ok(['history', dir, '--since', nameOf(FILES[2]!).replace(/\.cast$/, '')])), sha256(outputOf(FILES.slice(2))));
  assert.equal((await ok(['history', dir, '--since', '-1h'])).toString(), 'U-Boot 2024.01\r\n\x1b]0;board\x07half line');
  assert.equal((await ok(['history', dir, '--since', iso(Date.now() + 60_000)])).length, 0);
  assert.equal((await ok(['history', paths[2]!])).toString(), 'U-Boot again café 😀 ok\r\nKernel panic - not syncing\r\n');
});

test('history --text: plain lines for grep, escapes and CRs gone, each boot on its own line; --marks: time, file, seconds, label', async () => {
  const { dir, paths } = writeFixtures();
  const text = (await ok(['history', dir, '--text'])).toString();
  assert.equal(
    text,
    [
      'U-Boot 2024.01 (Dec 05 2026)',
      'DRAM:  512 MiB',
      '[    0.000000] Linux version 6.1.0',
      'login: root',
      '# ls',
      'bin  etc 🙂',
      '# ',
      'U-Boot again café 😀 ok',
      'Kernel panic - not syncing',
      'second boot in the same ms',
      'U-Boot 2024.01',
      'half line',
      '',
    ].join('\n'),
  );
  assert.equal(
    (await ok(['history', dir, '--text', '--since', '2-boots-ago'])).toString(),
    'U-Boot again café 😀 ok\nKernel panic - not syncing\nsecond boot in the same ms\nU-Boot 2024.01\nhalf line\n',
  );
  const marks = (await ok(['history', dir, '--marks'])).toString();
  const expected = FILES.flatMap((f) =>
    f.events
      .filter(([, c]) => c === 'm')
      .map(([t, , label]) => `${iso((BASE + f.at) * 1000 + Math.round(t * 1e6) / 1000)}  ${nameOf(f)}  ${t.toFixed(3)}  ${label.replace('\t', '\\t')}\n`),
  ).join('');
  assert.equal(marks, expected);
  assert.match(marks, /Z  .*Z\.cast  1\.200  mark: Linux version\n/);
  assert.match(marks, /Z  .*Z\.cast  1\.005  mark: DRAM\n/);
  assert.match(marks, /  0\.500  mark by alice: before\\treboot\n/);
  assert.equal(
    (await ok(['history', paths[1]!, '--marks', '--since', iso((BASE + 1800 + 1) * 1000)])).toString(),
    `${iso((BASE + 1803) * 1000)}  ${nameOf(FILES[1]!)}  3.000  device lost: EIO\n`,
  );
});

test('bad arguments: one line and exit 2; an unreadable or foreign file, or a directory with no history: one line naming it and exit 1', async () => {
  const { root, dir, paths } = writeFixtures();
  const notCast = join(root, 'notes.cast');
  writeFileSync(notCast, 'hello\n');
  const v1 = join(root, 'v1.cast');
  writeFileSync(v1, '{"version": 1, "width": 80, "height": 24, "stdout": [[0.1, "hi"]]}\n');
  const broken = join(root, 'broken.cast');
  writeFileSync(broken, `${header(BASE, true)}\n[0.1, "o", "kept\\r\\n"]\n[0.2, "o", oops]\n[0.3, "o", "x"]\n`);
  const empty = join(root, 'empty');
  mkdirSync(empty);
  const cases: [string[], number, RegExp][] = [
    [['play'], 2, /^ptybridge: play: expected one FILE\.cast, got none; usage: ptybridge play FILE\.cast/],
    [['play', 'a.cast', 'b.cast'], 2, /^ptybridge: play: expected one FILE\.cast, got "a\.cast" "b\.cast"/],
    [['play', paths[0]!, '--speed', '0'], 2, /^ptybridge: play: --speed expects a factor above 0 \(such as 2 or 0\.5\), got "0"$/],
    [['play', paths[0]!, '--speed', 'fast'], 2, /--speed expects a factor above 0 .*, got "fast"$/],
    [['play', paths[0]!, '--idle-limit', '-1'], 2, /--idle-limit expects seconds above 0 .*, got "-1"$/],
    [['play', paths[0]!, '--at', 'x'], 2, /--at expects seconds into the recording .*, got "x"$/],
    [['play', paths[0]!, '--speeed', '2'], 2, /^ptybridge: play: Unknown option '--speeed' \(did you mean "--speed"\?\); see ptybridge --help play$/],
    [['play', join(root, 'missing.cast')], 1, /^ptybridge: .*missing\.cast: ENOENT \(no such file or directory\)$/],
    [['play', dir], 1, /^ptybridge: .*board: EISDIR \(is a directory\)$/],
    [['play', notCast], 1, /^ptybridge: .*notes\.cast: line 1: not an asciicast v2 header \(not JSON: "hello"\)$/],
    [['play', v1], 1, /v1\.cast: line 1: expected an asciicast header with "version": 2, got "version": 1 \(asciicast v1/],
    [['play', '--max', broken], 1, /^ptybridge: .*broken\.cast: line 3: not an asciicast v2 event \(not JSON: "\[0\.2, \\"o\\", oops\]"\)$/],
    [['history'], 2, /^ptybridge: history: expected one console directory \(or FILE\.cast\), got none/],
    [['history', dir, '--since', 'yesterday'], 2, /^ptybridge: history: --since expects boot, last-boot, N-boots-ago, .*, got "yesterday"$/],
    [['history', dir, '--text', '--marks'], 2, /^ptybridge: history: --text and --marks exclude each other/],
    [['history', join(root, 'nowhere')], 1, /^ptybridge: .*nowhere: ENOENT \(no such file or directory\)$/],
    [['history', empty], 1, /^ptybridge: .*empty: no history files \(YYYY-MM-DDTHH-MM-SS\.mmmZ\.cast\)$/],
    [
      ['history', root],
      1,
      new RegExp(
        `^ptybridge: .*: no history files .*; it holds consoles' directories: board \\(give one, such as ${dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\)$`,
      ),
    ],
  ];
  for (const [args, code, message] of cases) {
    const r = await runPtyb(args);
    assert.equal(r.code, code, `${args.join(' ')}: ${r.stderr}`);
    const lines = r.stderr.trimEnd().split('\n');
    assert.equal(lines.length, 1, `${args.join(' ')}: one line, got ${JSON.stringify(r.stderr)}`);
    assert.match(lines[0]!, message, args.join(' '));
  }
  // What came before the bad line is still played.
  assert.equal((await runPtyb(['play', '--max', broken])).stdout.toString(), 'kept\r\n');
});

test('a reader of stdout that goes away (| head) ends play and history quietly with status 0', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ptyb-head-'));
  const path = join(dir, 'big.cast');
  const events: Ev[] = Array.from({ length: 2000 }, (_, i) => [i / 100, 'o', `line ${i} ${'x'.repeat(1000)}\r\n`]);
  writeFileSync(path, castText({ at: 0, boot: true, events }));
  for (const args of ['play --max', 'history', 'history --text']) {
    const r = await runTool('bash', ['-c', `'${process.execPath}' '${PTYBRIDGE}' ${args} '${path}' | head -c 10; echo " status \${PIPESTATUS[0]}"`]);
    assert.equal(r.stdout.toString(), 'line 0 xxx status 0\n', args);
    assert.equal(r.stderr, '', args);
  }
});

test('--help play and --help history describe the commands; play --help too', async () => {
  const play = (await ok(['--help', 'play'])).toString();
  assert.match(play, /^ptybridge play FILE\.cast \[--speed N\] \[--idle-limit SECONDS\] \[--at SECONDS\] \[--max\]\n/);
  assert.match(play, /q or Ctrl-C stops, space pauses/);
  assert.equal((await ok(['play', '--help'])).toString(), play);
  const history = (await ok(['--help', 'history'])).toString();
  assert.match(history, /--since WHEN +boot or last-boot/);
  assert.match(history, /--marks +the marks instead of the output/);
  assert.match((await ok(['--help'])).toString(), /ptybridge play FILE\.cast/);
});

/** A pane of tmux left at its shell's settings: what the terminal must be back to. */
async function pristineStty(): Promise<string> {
  const t = await inTmux(['--version']);
  try {
    await t.waitFor(/EXITED=0/);
    return await t.stty();
  } finally {
    await t.close();
  }
}

test('play at a real terminal: raw while playing; q, Ctrl-C and SIGTERM stop it and give the terminal back as it was; space pauses and resumes', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ptyb-tty-'));
  const slow = join(dir, 'slow.cast');
  writeFileSync(slow, `${header(BASE, true)}\n[0.0, "o", "first-line\\r\\n"]\n[3600.0, "o", "never-shown\\r\\n"]\n`);
  const paused = join(dir, 'paused.cast');
  writeFileSync(paused, `${header(BASE, true)}\n[0.0, "o", "one\\r\\n"]\n[0.5, "o", "two\\r\\n"]\n[1.0, "o", "three\\r\\n"]\n`);
  const before = await pristineStty();
  const stops: [string, (t: Awaited<ReturnType<typeof inTmux>>) => Promise<unknown>][] = [
    ['q', (t) => t.tmux('send-keys', '-l', 'q')],
    ['Ctrl-C', (t) => t.tmux('send-keys', 'C-c')],
    ['SIGTERM', async (t) => process.kill(t.ptybPid(), 'SIGTERM')],
  ];
  for (const [how, stop] of stops) {
    const t = await inTmux(['play', slow]);
    try {
      await t.waitFor(/first-line/);
      await until(async () => /-icanon/.test(await t.stty()), { timeout: 10_000, what: `raw mode while playing (${how})` });
      await stop(t);
      const screen = await t.waitFor(/EXITED=\d+/);
      assert.match(screen, /EXITED=0/, how);
      assert.doesNotMatch(screen, /never-shown/, how);
      assert.equal(await t.stty(), before, `terminal settings after ${how}`);
    } finally {
      await t.close();
    }
  }
  const t = await inTmux(['play', paused]);
  try {
    await t.waitFor(/one/);
    await t.tmux('send-keys', '-l', ' ');
    await t.tmux('send-keys', '-l', ' ');
    const screen = await t.waitFor(/EXITED=\d+/);
    assert.match(screen, /one\s+two\s+three\s+EXITED=0/);
    assert.equal(await t.stty(), before, 'terminal settings after a pause');
  } finally {
    await t.close();
  }
});

test('play --max and history --text of a 100 MiB file stream: exact bytes, peak RSS measured (bounded, far below the file size)', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ptyb-play-big-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'big.cast');
  const want = createHash('sha256');
  const file = createWriteStream(path);
  file.write(`${header(BASE, true)}\n`);
  let size = 0;
  for (let i = 0; size < 100 * 1024 * 1024; i++) {
    const data = `${String(i).padStart(8, '0')} ${'x'.repeat(1000)} \x1b[0mé\r\n`;
    want.update(data);
    const l = `${line([i / 1000, 'o', data])}\n`;
    size += Buffer.byteLength(l);
    if (!file.write(l)) await once(file, 'drain');
  }
  file.end();
  await once(file, 'close');
  const small = join(dir, 'small.cast');
  writeFileSync(small, `${header(BASE, true)}\n[0.1, "o", "hi"]\n`);
  const base = await peakOf(['play', '--max', small]);
  const big = await peakOf(['play', '--max', path]);
  assert.equal(big.code, 0, big.stderr);
  assert.equal(big.sha, want.digest('hex'));
  const mib = (n: number) => (n / 1048576).toFixed(1);
  t.diagnostic(
    `file ${mib(size)} MiB, output ${mib(big.bytes)} MiB; peak RSS ${mib(big.peakKb * 1024)} MiB (${mib(base.peakKb * 1024)} MiB for a one-event file)`,
  );
  // Held whole, the file alone would add 100 MiB (and its text twice that).
  assert.ok(base.peakKb > 0 && big.peakKb - base.peakKb < 64 * 1024, `peak RSS ${big.peakKb} KiB against ${base.peakKb} KiB: the file was held whole?`);
  const text = await peakOf(['history', '--text', path]);
  assert.equal(text.code, 0, text.stderr);
  t.diagnostic(`history --text: output ${mib(text.bytes)} MiB; peak RSS ${mib(text.peakKb * 1024)} MiB`);
  assert.ok(text.peakKb - base.peakKb < 64 * 1024, `history --text peak RSS ${text.peakKb} KiB against ${base.peakKb} KiB`);
});

/** Runs ptybridge to its end: status, SHA-256 and length of stdout, and its peak RSS (VmHWM polled until it is gone: the last read is nearly the peak). */
async function peakOf(args: string[]): Promise<{ code: number | null; sha: string; bytes: number; stderr: string; peakKb: number }> {
  const proc = spawnTracked(process.execPath, [PTYBRIDGE, ...args]);
  const got = createHash('sha256');
  let bytes = 0;
  proc.stdout!.on('data', (c: Buffer) => {
    got.update(c);
    bytes += c.length;
  });
  let stderr = '';
  proc.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  let peakKb = 0;
  const poll = setInterval(() => {
    try {
      peakKb = Math.max(peakKb, Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${proc.pid}/status`, 'utf8'))?.[1] ?? 0));
    } catch {}
  }, 20);
  const [code] = await once(proc, 'close');
  clearInterval(poll);
  return { code: code as number | null, sha: got.digest('hex'), bytes, stderr, peakKb };
}

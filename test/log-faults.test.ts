// A transcript (--log) that cannot be written never stops the consoles or the process (issue 28): FIFO without reader, full disk, removed directory, stalled reader, planted symlink.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  createReadStream,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import type net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { acceptOne, connectTcp, runPtyb, runTool, sha256, spawnTracked, startPtyb, type Running } from './helpers/ptyb.js';
import { until, within } from './helpers/until.js';

const dirs: string[] = [];
const dir = () => {
  const d = mkdtempSync(join(tmpdir(), 'ptyb-logf-'));
  dirs.push(d);
  return d;
};
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
const isRoot = process.getuid?.() === 0;

/** Bytes that arrive on a socket, taken in exact amounts: anything extra shows up in the next take. */
class Taker {
  private chunks: Buffer[] = [];
  private length = 0;
  constructor(readonly s: net.Socket) {
    s.on('data', (c: Buffer) => {
      this.chunks.push(c);
      this.length += c.length;
    });
  }
  async take(n: number, what: string): Promise<Buffer> {
    await until(() => this.length >= n, { what: `${n} bytes at ${what} (has ${this.length})` });
    const all = Buffer.concat(this.chunks);
    this.chunks = [all.subarray(n)];
    this.length -= n;
    return all.subarray(0, n);
  }
}

interface Console {
  pb: Running;
  /** Device output of `n` random bytes reaches both peers, and a quarter of that typed by the first reaches the device: all SHA-256-exact. */
  flood(n: number): Promise<void>;
  /** ptybridge_log_lost_bytes_total and ptybridge_log_writing for `path`. */
  metric(path: string): Promise<{ lost: number; writing: number }>;
  scrape(): Promise<string>;
  close(): Promise<void>;
}

/** A console shared by two tcp peers: the device is a TCP server of the test's (exact bytes both ways), with --metrics. */
async function startConsole(logArgs: string[]): Promise<Console> {
  const dev = await acceptOne();
  const pb = await startPtyb(['-v', '--metrics', '0', ...logArgs, `tcp:127.0.0.1:${dev.port}?share`, 'tcp-listen:0']);
  const url = (await pb.logged(/metrics on (http:\/\/[^/\s]+)\/metrics/))[1];
  const device = new Taker(await dev.first);
  const peers = [new Taker(await connectTcp(pb.listening[0]!.port)), new Taker(await connectTcp(pb.listening[0]!.port))];
  await pb.logged(/connected \(2 peers\)/);
  return {
    pb,
    async flood(n) {
      const out = randomBytes(n);
      const typed = randomBytes(n >> 2);
      device.s.write(out);
      peers[0]!.s.write(typed);
      const detail = () => pb.stderr().slice(-2000);
      const [a, b, d] = await within(Promise.all([peers[0]!.take(n, 'peer 1'), peers[1]!.take(n, 'peer 2'), device.take(typed.length, 'the device')]), {
        what: 'the flood',
        detail,
      });
      assert.equal(sha256(a), sha256(out), 'peer 1 byte-exact');
      assert.equal(sha256(b), sha256(out), 'peer 2 byte-exact');
      assert.equal(sha256(d), sha256(typed), 'the device byte-exact');
    },
    async scrape() {
      return (await fetch(`${url}/metrics`)).text();
    },
    async metric(path) {
      const text = await (await fetch(`${url}/metrics`)).text();
      const get = (name: string) =>
        Number(new RegExp(`^${name}\\{log="${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}"\\} (\\d+)$`, 'm').exec(text)?.[1] ?? NaN);
      return { lost: get('ptybridge_log_lost_bytes_total'), writing: get('ptybridge_log_writing') };
    },
    async close() {
      for (const p of peers) p.s.destroy();
      device.s.destroy();
      await pb.stop('SIGKILL');
      await dev.close();
    },
  };
}

/** SIGTERM ends it, status 0, whatever the log is doing (the stop deadline is 1.5 s; the bound only catches a hang). */
async function sigtermExits(pb: Running): Promise<void> {
  const { code, signal } = await within(pb.stop('SIGTERM'), {
    what: 'ptybridge to exit after SIGTERM',
    timeout: 15_000,
    detail: () => pb.stderr().slice(-2000),
  });
  assert.deepEqual({ code, signal }, { code: 0, signal: null }, pb.stderr().slice(-2000));
}

const count = (text: string, re: RegExp) => text.match(new RegExp(re.source, 'g'))?.length ?? 0;

test('log fault: a FIFO with no reader (--log-fifo): peers byte-exact, the loss counted and marked when a reader comes, SIGTERM exits', {
  timeout: 120_000,
}, async () => {
  const d = dir();
  const fifo = join(d, 'console.fifo');
  assert.equal((await runTool('mkfifo', [fifo])).code, 0);
  const c = await startConsole(['--log-fifo', '--log', fifo]);
  try {
    await c.flood(1024 * 1024);
    const m = await until(async () => {
      const m = await c.metric(fifo);
      return m.lost > 0 ? m : undefined;
    });
    assert.equal(m.writing, 0, 'not written: no reader');
    assert.equal(count(c.pb.stderr(), /no reader on the FIFO/), 1, 'said once');
    // A reader comes: the transcript starts with the line that says how much it missed.
    const reader = createReadStream(fifo);
    let seen = '';
    reader.on('data', (b) => (seen += b.toString('latin1')));
    const mark = await until(() => /--- (\d+) bytes lost: no reader on the FIFO; written again from here ---\n/.exec(seen), { what: 'the gap line' });
    assert.equal(Number(mark[1]), (await c.metric(fifo)).lost, 'the line and --metrics count the same loss');
    await until(async () => (await c.metric(fifo)).writing === 1);
    await c.flood(64 * 1024);
    await until(() => seen.length > 64 * 1024, { what: 'the flood in the transcript' });
    // The reader goes away (EPIPE): said once more, counted again, and SIGTERM still exits at once.
    reader.destroy();
    await until(
      async () => {
        await c.flood(64 * 1024);
        return (await c.metric(fifo)).writing === 0;
      },
      { what: 'the FIFO noticed gone' },
    );
    await c.pb.logged(/--log \S+: the FIFO's reader went away/);
    await c.flood(256 * 1024);
    await sigtermExits(c.pb);
  } finally {
    await c.close();
  }
});

test('log fault: a 1 MiB tmpfs filled mid-run (ENOSPC): peers byte-exact, the loss counted, writing resumes once space is freed, with the gap marked', {
  skip: !isRoot && 'needs root to mount a tmpfs',
  timeout: 120_000,
}, async () => {
  const mnt = dir();
  execOk('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', mnt]);
  let c: Console | undefined;
  try {
    const file = join(mnt, 'console.log');
    c = await startConsole(['--log', file]);
    await c.flood(100 * 1024);
    await until(() => readFileSync(file).length > 100 * 1024, { what: 'the first flood in the transcript' });
    // Another file takes every byte left.
    const filler = join(mnt, 'filler');
    const fd = openSync(filler, 'w');
    try {
      for (;;) writeSync(fd, Buffer.alloc(16 * 1024));
    } catch (err) {
      assert.equal((err as NodeJS.ErrnoException).code, 'ENOSPC');
    } finally {
      closeSync(fd);
    }
    await c.flood(2 * 1024 * 1024);
    const down = await until(
      async () => {
        const m = await c!.metric(file);
        return m.writing === 0 && m.lost > 0 ? m : undefined;
      },
      { what: 'the transcript down on ENOSPC' },
    );
    assert.ok(down.lost > 1024 * 1024, `counted: ${down.lost}`);
    await c.flood(512 * 1024); // still serving, byte-exact, while the disk is full
    assert.equal(count(c.pb.stderr(), /ENOSPC/), 1, `said once:\n${c.pb.stderr()}`);
    rmSync(filler);
    const text = await until(
      () => {
        const t = readFileSync(file, 'latin1');
        return /--- \d+ bytes lost: ENOSPC \(no space left on device\); written again from here ---\n/.test(t) ? t : undefined;
      },
      { what: 'the gap line once space is back' },
    );
    const marked = Number(/--- (\d+) bytes lost: ENOSPC/.exec(text)![1]);
    const m = await c.metric(file);
    assert.deepEqual(m, { lost: marked, writing: 1 }, 'the line and --metrics count the same loss; written again');
    await c.pb.logged(/--log \S+: written again; \d+ bytes of transcript lost/);
    const before = readFileSync(file).length;
    await c.flood(64 * 1024);
    await until(() => readFileSync(file).length > before + 64 * 1024, { what: 'the transcript growing again' });
    await sigtermExits(c.pb);
  } finally {
    await c?.close();
    execOk('umount', [mnt]);
  }
});

test("log fault: the log's directory removed: peers byte-exact, the loss counted, written again (gap marked) once the directory is back", {
  timeout: 120_000,
}, async () => {
  const d = join(dir(), 'logs');
  mkdirSync(d);
  const file = join(d, 'console.log');
  const c = await startConsole(['--log', file]);
  try {
    await c.flood(64 * 1024);
    await until(() => readFileSync(file).length > 64 * 1024);
    rmSync(d, { recursive: true });
    // Writing goes on into the deleted file until ptybridge looks (at most once a second of writing).
    await until(
      async () => {
        await c.flood(64 * 1024);
        return (await c.metric(file)).writing === 0;
      },
      { what: 'the deleted log noticed' },
    );
    await c.pb.logged(/--log \S+: the log file was deleted; /);
    await c.flood(256 * 1024);
    const { lost } = await c.metric(file);
    assert.ok(lost >= 256 * 1024, `counted: ${lost}`);
    mkdirSync(d);
    const text = await until(
      () => (existsSync(file) ? /--- (\d+) bytes lost: the log file was deleted; written again from here ---\n/.exec(readFileSync(file, 'latin1')) : null),
      { what: 'the gap line in a new file' },
    );
    assert.deepEqual(await c.metric(file), { lost: Number(text[1]), writing: 1 });
    await c.flood(64 * 1024);
    await until(() => readFileSync(file).length > 64 * 1024, { what: 'the new file written' });
    assert.equal(count(c.pb.stderr(), /the log file was deleted/), 1, 'said once');
    await sigtermExits(c.pb);
  } finally {
    await c.close();
  }
});

test('log fault: a FIFO reader that stalls: peers byte-exact, past 4 MiB waiting the loss is counted and marked where it happened, SIGTERM exits while it stalls', {
  timeout: 120_000,
}, async () => {
  const d = dir();
  const fifo = join(d, 'console.fifo');
  const out = join(d, 'read.log');
  assert.equal((await runTool('mkfifo', [fifo])).code, 0);
  const reader = spawnTracked('sh', ['-c', `exec cat "${fifo}" > "${out}"`]);
  const c = await startConsole(['--log-fifo', '--log', fifo]);
  try {
    await c.flood(64 * 1024);
    await until(() => existsSync(out) && readFileSync(out).length > 64 * 1024, { what: 'the reader reading' });
    reader.kill('SIGSTOP');
    await c.flood(8 * 1024 * 1024);
    const stalled = await c.metric(fifo);
    assert.ok(stalled.lost > 2 * 1024 * 1024, `counted: ${stalled.lost}`);
    assert.equal(stalled.writing, 1, 'slow, not failed');
    assert.equal(count(c.pb.stderr(), /bytes wait for it/), 1, 'said once');
    reader.kill('SIGCONT');
    // The gap lines go in once there is room again, at the next output, where the bytes are missing.
    await until(
      async () => {
        await c.flood(1024);
        const text = readFileSync(out, 'latin1');
        const marked = [...text.matchAll(/--- (\d+) bytes (?:dropped|lost): [^\n]*---\n/g)].reduce((sum, m) => sum + Number(m[1]), 0);
        return marked > 0 && marked === (await c.metric(fifo)).lost;
      },
      { what: 'gap lines that count what --metrics counts, after the reader woke' },
    );
    // Stalled again with a full queue: SIGTERM does not wait for it.
    reader.kill('SIGSTOP');
    await c.flood(8 * 1024 * 1024);
    await sigtermExits(c.pb);
  } finally {
    reader.kill('SIGKILL');
    await c.close();
  }
});

test("log fault: a symlink or a FIFO planted at the --log path is refused, another user's file untouched; --log-fifo without --log is refused", async () => {
  const d = dir();
  const victim = join(d, 'victim-file');
  writeFileSync(victim, 'theirs\n');
  const link = join(d, 'console.log');
  symlinkSync(victim, link);
  const r = await runPtyb(['--log', link, 'exec:cat?share', 'tcp-listen:0']);
  assert.equal(r.code, 1, r.stderr);
  assert.equal(
    r.stderr,
    `ptybridge: --log ${link}: is a symbolic link, which --log does not follow (one planted in a shared directory would send the transcript elsewhere); give the file's own path\n`,
  );
  assert.equal(readFileSync(victim, 'utf8'), 'theirs\n');
  const fifo = join(d, 'planted.fifo');
  assert.equal((await runTool('mkfifo', [fifo])).code, 0);
  const f = await within(runPtyb(['--log', fifo, 'exec:cat?share', 'tcp-listen:0']), { what: 'a FIFO refused, not waited on' });
  assert.equal(f.code, 2, f.stderr);
  assert.match(f.stderr, /^ptybridge: --log \S+ is a FIFO: .*add --log-fifo/);
  const n = await runPtyb(['--log-fifo', 'exec:cat?share', 'tcp-listen:0']);
  assert.equal(n.code, 2);
  assert.match(n.stderr, /--log-fifo has no effect without --log FILE/);
});

function execOk(cmd: string, args: string[]) {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  assert.equal(r.status, 0, `${cmd} ${args.join(' ')}: ${r.stderr}`);
}

test('log fault: stderr piped to a reader that stalls (-x, -v): peers byte-exact, lines past 1 MiB waiting dropped and counted, said when it reads again, SIGTERM exits', {
  timeout: 120_000,
}, async () => {
  const c = await startConsole(['-x']);
  try {
    await c.flood(16 * 1024);
    c.pb.proc.stderr!.pause(); // the journal, or `| logger`, stops reading
    // The hex trace of 2 MiB is about 8 MiB of text: far past the pipe and the 1 MiB queue.
    await c.flood(2 * 1024 * 1024);
    const dropped = Number(/^ptybridge_stderr_dropped_lines_total (\d+)$/m.exec(await c.scrape())?.[1]);
    assert.ok(dropped > 0, `dropped: ${dropped}`);
    c.pb.proc.stderr!.resume();
    await until(
      async () => {
        await c.flood(1024);
        return /ptybridge: \d+ log lines dropped here: stderr was not read\n/.test(c.pb.stderr());
      },
      { what: 'the dropped lines said once stderr is read again' },
    );
    await sigtermExits(c.pb);
  } finally {
    await c.close();
  }
});

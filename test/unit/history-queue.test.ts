// The history writer behind a stalled disk: output is queued, never waited for, and none is lost up to the queue's bound; past it the loss is counted and said in the file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../../src/log.js';
import { openHistory } from '../../src/router/history.js';
import { until } from '../helpers/until.js';

const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

/**
 * A disk that stops: every file write waits for `release()`. Only the latency is made up;
 * the files are real.
 */
async function stallDisk(): Promise<{ release(): void; restore(): void; waiting(): number }> {
  const probe = await open(join(tmpdir(), `ptyb-probe-${process.pid}`), 'w');
  const proto = Object.getPrototypeOf(probe) as { write: (...a: unknown[]) => Promise<unknown> };
  await probe.close();
  const real = proto.write;
  let gate: Promise<void> | undefined = new Promise<void>(() => {});
  let open_ = () => {};
  gate = new Promise<void>((r) => (open_ = r));
  let waiting = 0;
  proto.write = async function (this: unknown, ...a: unknown[]) {
    waiting++;
    await gate;
    waiting--;
    return real.apply(this, a);
  };
  return { release: () => open_(), restore: () => (proto.write = real), waiting: () => waiting };
}

function outputOf(dir: string): { text: string; marks: string[] } {
  let text = '';
  const marks: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    for (const line of readFileSync(join(dir, name), 'utf8').split('\n').slice(1, -1)) {
      const e = JSON.parse(line) as [number, string, string];
      if (e[1] === 'o') text += e[2];
      if (e[1] === 'm') marks.push(e[2]);
    }
  }
  return { text, marks };
}

const chunk = (i: number) => Buffer.from(`${String(i).padStart(8, '0')} ${'é€x'.repeat(1000)}\n`);

test('a stalled disk: 32 MiB of output queued while no write completes, all of it in the file afterwards', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ptyb-hq-'));
  const disk = await stallDisk();
  try {
    const h = await openHistory({ dir: join(dir, 'h'), console: 'c', max: 2 ** 40, logInput: false, size: { cols: 80, rows: 24 }, log: createLogger('error') });
    h.deviceUp!('dev', { again: false, retried: false });
    const sent: Buffer[] = [];
    let bytes = 0;
    const started = performance.now();
    for (let i = 0; bytes < 32 * 1024 * 1024; i++) {
      const c = chunk(i);
      sent.push(c);
      bytes += c.length;
      h.deviceOutput!(c, 'dev');
      // The event loop turns as it does between device reads: the writer is at the disk, stuck.
      if (i % 64 === 0) await new Promise((r) => setImmediate(r));
    }
    const handed = performance.now() - started;
    assert.ok(disk.waiting() >= 1, 'the disk is stalled while output comes');
    assert.equal(h.stats().lost, 0);
    disk.release();
    await h.close(30_000);
    const { text, marks } = outputOf(join(dir, 'h'));
    assert.equal(sha(text), sha(Buffer.concat(sent).toString('utf8')), 'every byte, in order');
    assert.deepEqual(marks, ['boot']);
    assert.ok(h.stats().peakQueue >= 32 * 1024 * 1024 * 0.5, `peak ${h.stats().peakQueue}`);
    // The measure: how long handing 32 MiB to a stalled recorder took (no write completed meanwhile).
    console.log(`# 32 MiB handed to a stalled disk in ${handed.toFixed(0)} ms; peak queue ${h.stats().peakQueue} bytes`);
  } finally {
    disk.restore();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('past the queue bound: what does not fit is counted, said in place, and the rest is exact', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ptyb-hq-'));
  const disk = await stallDisk();
  try {
    const h = await openHistory({
      dir: join(dir, 'h'),
      console: 'c',
      max: 2 ** 40,
      logInput: false,
      size: { cols: 80, rows: 24 },
      log: createLogger('error'),
      queue: 1024 * 1024,
    });
    h.deviceUp!('dev', { again: false, retried: false });
    const kept: Buffer[] = [];
    for (let i = 0; i < 2000; i++) {
      const c = chunk(i);
      const before = h.stats().lost;
      h.deviceOutput!(c, 'dev');
      if (h.stats().lost === before) kept.push(c);
      if (i % 64 === 0) await new Promise((r) => setImmediate(r));
    }
    const lost = h.stats().lost;
    assert.ok(lost > 0, 'a 1 MiB queue cannot hold 12 MiB');
    disk.release();
    // The recorder takes its queue as a batch when the stuck write returns: then there is room again.
    await until(() => (h as unknown as { queued: number }).queued === 0, { what: "the recorder's queue taken after the disk came back", timeout: 30_000 });
    // Once the disk is back, the next output says how much is missing, then goes on.
    const after = chunk(99_999);
    h.deviceOutput!(after, 'dev');
    kept.push(after);
    await h.close(30_000);
    const { text, marks } = outputOf(join(dir, 'h'));
    assert.equal(sha(text), sha(Buffer.concat(kept).toString('utf8')));
    assert.deepEqual(marks, ['boot', `${lost} bytes not recorded: the disk was too slow`]);
  } finally {
    disk.restore();
    rmSync(dir, { recursive: true, force: true });
  }
});

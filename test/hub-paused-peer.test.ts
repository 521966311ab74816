// A shared device with peers of different doors: ptybridge's own client reads a flood while a paused ws client and a unix socket that never reads are dropped at ?peer-queue; memory stays bounded.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import net from 'node:net';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startFakeVm } from './helpers/devices.js';
import { PTYBRIDGE, readAll, sha256, spawnTracked, startPtyb } from './helpers/ptyb.js';
import { until, within } from './helpers/until.js';
import { openWs, withToken, wsUrl } from './helpers/ws.js';

test("a paused ws client and a unix peer that never reads are dropped at ?peer-queue; ptybridge's own client gets all 48 MiB exactly; RSS bounded", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ptyb-paused-'));
  const size = 48 * 1024 * 1024;
  const payload = randomBytes(size);
  const sock = join(dir, 'door.sock');
  const vm = await startFakeVm();
  // 8M: far less than the flood, so the paused peers (the kernel holds a few MiB for each) pass it.
  const pb = await startPtyb(
    ['-v', `pty:${vm.slave}?replay=0&peer-queue=8M`, 'tcp-listen:127.0.0.1:0', withToken('ws-listen:127.0.0.1:0'), `unix-listen:${sock}`],
    {
      listeners: 3,
    },
  );
  let maxRss = 0;
  const sampler = setInterval(() => {
    try {
      maxRss = Math.max(maxRss, Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pb.proc.pid}/status`, 'utf8'))?.[1] ?? 0) * 1024);
    } catch {}
  }, 50);
  const client = spawnTracked(process.execPath, [PTYBRIDGE, '-', `tcp:127.0.0.1:${pb.listening[0]!.port}`]);
  let ws: Awaited<ReturnType<typeof openWs>> | undefined;
  let quiet: net.Socket | undefined;
  try {
    // The reader: ptybridge's interactive client, its stdout a pipe (stdin left open: its end would end the session).
    const h = createHash('sha256');
    let n = 0;
    let after = '';
    client.stdout!.on('data', (c: Buffer) => {
      const flood = Math.max(0, Math.min(c.length, size - n));
      if (flood > 0) h.update(c.subarray(0, flood));
      after += c.subarray(flood).toString('latin1');
      n += c.length;
    });
    await pb.logged(/\(1 peer\)/, 'the client joined');
    // The paused peers: a ws client that stops reading, a unix socket that never reads.
    ws = await openWs(wsUrl(pb.listening[1]!.port));
    ws.on('error', () => {});
    const wsChunks: Buffer[] = [];
    ws.on('message', (d: Buffer) => wsChunks.push(d));
    ws.pause();
    await pb.logged(/\(2 peers\)/, 'the ws client joined');
    quiet = net.connect(sock);
    quiet.on('error', () => {});
    quiet.pause();
    await pb.logged(/\(3 peers\)/, 'the unix peer joined');

    const state = () => `the client got ${n} of ${size} bytes; client exit ${client.exitCode}\nstderr:\n${pb.stderr()}`;
    // A console paced by its reader, as a real one is (a device faster than every reader would
    // have the reader dropped too, rightly): the reader stays within 4 MiB, the paused peers fall behind.
    const step = 1024 * 1024;
    for (let off = 0; off < size; off += step) {
      vm.say(payload.subarray(off, off + step));
      await until(() => n >= off - 4 * step || client.exitCode !== null, { what: `the client to read up to ${off - 4 * step}`, detail: state });
    }
    await until(() => n >= size || client.exitCode !== null, { what: 'the flood at the reading client', detail: state });
    assert.equal(n, size, state());
    assert.equal(h.digest('hex'), sha256(payload), 'the reading client got every byte, in order');
    // The documented policy: dropped, not skipped ahead, once more than ?peer-queue waits.
    await pb.logged(/ws 127\.0\.0\.1:\d+[^\n]*: dropped, not reading \(\d+ bytes queued, limit 8388608\)/, 'the ws client dropped');
    await pb.logged(/unix[^\n]*: dropped, not reading \(\d+ bytes queued, limit 8388608\)/, 'the unix peer dropped');
    assert.doesNotMatch(pb.stderr(), /tcp 127\.0\.0\.1:\d+[^\n]*: dropped/, 'the reading client was not dropped');
    // Dropped, not skipped ahead: once they read again, each paused peer finds a prefix of the flood and then the end.
    const wsClosed = once(ws, 'close');
    ws.resume();
    await within(wsClosed, { what: 'the dropped ws client to see its close', detail: state });
    const wsGot = Buffer.concat(wsChunks);
    assert.ok(wsGot.length > 0 && wsGot.equals(payload.subarray(0, wsGot.length)), `the ws client's ${wsGot.length} bytes are the flood's start`);
    const quietEnded = readAll(quiet);
    quiet.resume();
    const quietGot = await within(quietEnded, { what: 'the dropped unix peer to read its end', detail: state });
    assert.ok(quietGot.length > 0 && quietGot.equals(payload.subarray(0, quietGot.length)), `the unix peer's ${quietGot.length} bytes are the flood's start`);
    t.diagnostic(
      `RSS peak ${(maxRss / 1048576).toFixed(0)} MiB; the paused ws client had ${wsGot.length} bytes, the unix peer ${quietGot.length}, when dropped`,
    );
    assert.ok(maxRss < 300 * 1024 * 1024, `ptybridge RSS peaked at ${(maxRss / 1048576).toFixed(0)} MiB`);
    // The reader is still connected and served.
    vm.say('after the flood\r\n');
    await until(() => after === 'after the flood\r\n', { what: 'the line after the flood at the client', detail: state });
  } finally {
    clearInterval(sampler);
    ws?.terminate();
    quiet?.destroy();
    client.kill();
    await pb.stop();
    await vm.quit();
    rmSync(dir, { recursive: true, force: true });
  }
});

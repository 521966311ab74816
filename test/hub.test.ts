// The hub behind a listener: input policies, a stalled peer among fast ones, controls from peers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type net from 'node:net';
import { sha256, startPtyb } from './helpers/ptyb.js';
import { readText, startFakeVm, until, connectPeer } from './helpers/devices.js';
import { within } from './helpers/until.js';

const tmp = mkdtempSync(join(tmpdir(), 'ptyb-hub-'));
test.after(() => rmSync(tmp, { recursive: true, force: true }));

test('policy=exclusive: the first peer types, a later one is refused until the first leaves', async () => {
  const vm = await startFakeVm();
  const pb = await startPtyb(['-v', `pty:${vm.slave}?policy=exclusive`, 'tcp-listen:0']);
  try {
    const port = pb.listening[0]!.port;
    const first = await connectPeer(port);
    await until(() => pb.stderr().includes('(1 peer)'));
    const second = await connectPeer(port);
    await until(() => pb.stderr().includes('(2 peers)'));
    second.write('REFUSED-INPUT\n');
    await readText(second, 'another peer has the console]\r\n'); // the hub has handled it
    first.write('first-types\n');
    await vm.waitReceived('first-types\n');
    assert.ok(!vm.received().includes('REFUSED'), 'the device got nothing from the refused peer');
    first.destroy();
    await until(() => pb.stderr().includes('now has the console'));
    second.write('second-now-types\n');
    await vm.waitReceived('second-now-types\n');
    assert.ok(!vm.received().includes('REFUSED'));
    second.destroy();
  } finally {
    await pb.stop();
    await vm.quit();
  }
});

test('policy=readonly: nobody types (spy mode), everyone still sees the output', async () => {
  const vm = await startFakeVm();
  const pb = await startPtyb(['-v', `pty:${vm.slave}?policy=readonly`, 'tcp-listen:0']);
  try {
    const a = await connectPeer(pb.listening[0]!.port);
    const b = await connectPeer(pb.listening[0]!.port);
    await until(() => pb.stderr().includes('(2 peers)'));
    a.write('A-REFUSED\n');
    b.write('B-REFUSED\n');
    await readText(a, 'read-only console]\r\n');
    await readText(b, 'read-only console]\r\n');
    vm.say('still-visible\n');
    await readText(a, 'still-visible\n');
    await readText(b, 'still-visible\n');
    a.destroy();
    b.destroy();
    await until(() => (pb.stderr().match(/refused/g) ?? []).length >= 2);
    await pb.stop();
    assert.equal(vm.received().length, 0, `the device got ${JSON.stringify(vm.received().toString())}`);
  } finally {
    await pb.stop();
    await vm.quit();
  }
});

test('a peer that never reads is dropped while 50 MiB flows; the others get every byte; memory stays bounded', async () => {
  const size = 50 * 1024 * 1024;
  const payload = randomBytes(size);
  const file = join(tmp, 'flood.bin');
  writeFileSync(file, payload);
  const vm = await startFakeVm();
  const pb = await startPtyb(['-v', `pty:${vm.slave}?replay=0&peer-queue=24M`, 'tcp-listen:0']);
  let maxRss = 0;
  const sampler = setInterval(() => {
    try {
      const kb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pb.proc.pid}/status`, 'utf8'))?.[1] ?? 0);
      maxRss = Math.max(maxRss, kb * 1024);
    } catch {}
  }, 50);
  try {
    const port = pb.listening[0]!.port;
    const fast = [await connectPeer(port), await connectPeer(port)];
    const stalled: net.Socket = await connectPeer(port);
    stalled.pause(); // connected, never reads
    stalled.on('error', () => {});
    await until(() => pb.stderr().includes('(3 peers)'));
    const got = [0, 0];
    const hashes = fast.map((s, i) => {
      const h = createHash('sha256');
      let n = 0;
      return new Promise<[number, string]>((resolve, reject) => {
        // The fast readers share 2 busy cores with everything else: ample slack keeps
        // them from being dropped too (24M), while the stalled one, which the kernel buffers at
        // most ~10 MiB of, passes it with 50 MiB sent.
        s.once('close', () => reject(new Error(`a reading peer was closed after ${n} bytes:\n${pb.stderr()}`)));
        s.on('data', (c: Buffer) => {
          h.update(c);
          n += c.length;
          got[i] = n;
          if (n >= size) resolve([n, h.digest('hex')]);
        });
      });
    });
    // Bounded, and failing if ptybridge ends: a device nobody reads would block the VM forever.
    const ended = pb.exited.then((e) => Promise.reject(new Error(`ptybridge ended (${JSON.stringify(e)})`)));
    ended.catch(() => {}); // seen through the race below; after a pass, the stop is expected
    for (const h of hashes) h.catch(() => {}); // a reader closed early fails the race, not the process
    const state = () =>
      `fast peers got ${got.join(' and ')} of ${size} bytes; stalled peer destroyed: ${stalled.destroyed}; fast: ${fast.map((f) => `destroyed ${f.destroyed} ended ${f.readableEnded} flowing ${f.readableFlowing}`).join(', ')}; VM sent all: ${sent}\nstderr:\n${pb.stderr()}`;
    let sent = false;
    // A reader closed early fails at once, not after the VM has written everything.
    const flood = Promise.all([vm.sendFile(file).then(() => void (sent = true)), ...hashes]);
    const [, ...results] = await within(Promise.race([flood, ended]), { what: 'the flood to reach both reading peers', detail: state });
    for (const [n, digest] of results as [number, string][]) {
      assert.equal(n, size);
      assert.equal(digest, sha256(payload));
    }
    await pb.logged(/dropped, not reading/);
    assert.ok(maxRss < 300 * 1024 * 1024, `ptybridge RSS peaked at ${(maxRss / 1048576).toFixed(0)} MiB`);
    fast.forEach((s) => s.destroy());
    stalled.destroy();
  } finally {
    clearInterval(sampler);
    await pb.stop();
    await vm.quit();
  }
});

test('input a hub refuses is a warning at the default level, with the count and why: by policy, and while the device is down', {
  timeout: 20_000,
}, async () => {
  const spy = await startFakeVm();
  const vm = await startFakeVm(join(tmp, 'vm-gone'));
  const readonly = await startPtyb([`pty:${spy.slave}?policy=readonly`, 'tcp-listen:0']);
  const down = await startPtyb([`pty:${join(tmp, 'vm-gone')}`, 'tcp-listen:0']);
  try {
    const a = await connectPeer(readonly.listening[0]!.port);
    a.write('0123456789');
    await readText(a, 'read-only console]\r\n');
    a.destroy();
    await until(() => readonly.stderr().includes('refused'));
    await readonly.logged(/^ptybridge: tcp 127\.0\.0\.1:\d+ left: \d+ bytes to it, 10 bytes from it, 10 refused \(10 by policy readonly\)$/m);

    const b = await connectPeer(down.listening[0]!.port);
    await readText(b, 'login: ');
    await vm.quit();
    await readText(b, 'reopening]\r\n');
    b.end('lost-keys'); // typed at a device that is gone: discarded, and said so
    await until(() => down.stderr().includes('refused'));
    await down.logged(/^ptybridge: tcp 127\.0\.0\.1:\d+ left: \d+ bytes to it, 9 bytes from it, 9 refused \(9 while the device was down\)$/m);
  } finally {
    await readonly.stop();
    await down.stop();
    await vm.quit();
    await spy.quit();
  }
});

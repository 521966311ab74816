// One planner for both entry paths: a config route with a device and several doors runs as one hub, and --check refuses what a run would refuse.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type net from 'node:net';
import { connectTcp, readUntil, runPtyb, startPtyb, tcpServer } from './helpers/ptyb.js';

const dir = mkdtempSync(join(tmpdir(), 'ptyb-doors-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const file = (name: string, lines: string[]) => {
  const f = join(dir, name);
  writeFileSync(f, ['version: 1', 'routes:', ...lines, ''].join('\n'));
  return f;
};

test('a config route with device and two doors: one hub, a read-only door watches, the other types', { timeout: 30_000 }, async () => {
  // The console echoes in upper case: what a peer types comes back to every peer.
  const console_ = await tcpServer((s) => s.on('data', (d: Buffer) => s.write(d.toString().toUpperCase())));
  const f = file('doors.yaml', ['  - name: vm', `    device: tcp:127.0.0.1:${console_.port}?share`, '    doors: [tcp-listen:0, "tcp-listen:0?readonly"]']);
  const pb = await startPtyb(['--config', f], { listeners: 2 });
  const peers: net.Socket[] = [];
  try {
    const [typist, watcher] = await Promise.all(pb.listening.map((l) => connectTcp(l.port)));
    peers.push(typist!, watcher!);
    // The watcher's keys go nowhere; the typist's reach the console, and both see the answer.
    watcher!.write('ignored ');
    assert.equal(await readUntil(watcher!, 'type]\r\n'), '\r\n[ptybridge: read-only: you may watch, not type]\r\n', 'told why its keys go nowhere');
    const seen = readUntil(watcher!, 'HELLO');
    typist!.write('hello');
    assert.equal(await readUntil(typist!, 'HELLO'), 'HELLO');
    assert.equal(await seen, 'HELLO');
  } finally {
    peers.forEach((p) => p.destroy());
    await pb.stop();
    await console_.close();
  }
});

test('--check refuses a read-only door on a per-peer route, as the run does (both exit 2, one line)', async () => {
  const f = file('readonly-fork.yaml', ['  - name: a', '    left: tcp-listen:0?readonly', '    right: tcp:127.0.0.1:1']);
  const want = `ptybridge: ${f}:3:11: route "a": tcp-listen:0?readonly: ?readonly is for the listeners of a shared device (pty:, serial:, file:, exec:…?share); here each peer gets its own connection, with nothing to watch\n`;
  for (const args of [
    ['--config', f, '--check'],
    ['--config', f],
  ]) {
    const r = await runPtyb(args);
    assert.equal(r.code, 2, args.join(' '));
    assert.equal(r.stderr, want);
  }
});

test('--check prints the plan of a command line and opens nothing', async () => {
  const r = await runPtyb(['--check', 'tcp:127.0.0.1:1?share', 'tcp-listen:0', 'unix-listen:' + join(dir, 'never.sock')]);
  assert.equal(r.code, 0, r.stderr);
  const out = r.stdout.toString().split('\n');
  assert.equal(out[0], 'hub: one shared device, 2 doors');
  assert.match(out[1]!, /^  device    tcp:127\.0\.0\.1:1\?share  \[.*share=true.*\]$/);
  assert.match(out[2]!, /^  door      tcp-listen:0  \[/);
  assert.match(out[3]!, /^  door      unix-listen:.*never\.sock  \[/);
  assert.equal(out[4], '  hub       policy shared, replay bytes (last 16k), peer-queue 1M, max-peers 1024, log-input off');
  assert.equal(r.stderr, '', 'nothing listens');
  const pipe = await runPtyb(['--check', 'tcp:127.0.0.1:1', 'tcp:127.0.0.1:2']);
  assert.equal(pipe.stdout.toString().split('\n')[0], 'pipe: connect both ends');
});

test('a config route is two ends or a device and its doors: mixed or missing keys, a per-peer device, refused with file:line:col', async (t) => {
  const cases: [string, string[], RegExp][] = [
    [
      'both shapes',
      ['  - name: a', '    left: "pty:"', '    device: "pty:"', '    doors: [tcp-listen:0]'],
      /:4:11: routes\[0\]\.left: a route has either left and right, or device and doors, not both$/,
    ],
    [
      'device without doors',
      ['  - name: a', '    device: "pty:"'],
      /:3:5: routes\[0\]\.doors: missing: a route has left and right \(two ends\), or device and doors \(one shared device, its listeners\)$/,
    ],
    ['empty doors', ['  - name: a', '    device: "pty:"', '    doors: []'], /:5:12: routes\[0\]\.doors: expected at least one door$/],
    [
      'per-peer device',
      ['  - name: a', '    device: tcp:127.0.0.1:1', '    doors: [tcp-listen:0]'],
      /:3:11: route "a": a route with device and doors: the device must be a shared device .*; tcp:127\.0\.0\.1:1 is opened once per peer, not shared$/,
    ],
    [
      'a door that does not listen',
      ['  - name: a', '    device: "pty:"', '    doors: [tcp-listen:0, "tcp:127.0.0.1:1"]'],
      /:3:11: route "a": .*; tcp:127\.0\.0\.1:1 is not a listener$/,
    ],
    [
      'a bad door',
      ['  - name: a', '    device: "pty:"', '    doors:', '      - tcp-listen:0', '      - tcp-listen:0?nope'],
      /:7:9: routes\[0\]\.doors\[1\]: tcp-listen:0\?nope: unknown option "nope"/,
    ],
  ];
  for (const [what, lines, want] of cases) {
    await t.test(what, async () => {
      const r = await runPtyb(['--config', file(`bad-${what.replace(/\W/g, '-')}.yaml`, lines), '--check']);
      assert.equal(r.code, 2, r.stderr);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.match(r.stderr.trim(), want);
    });
  }
});

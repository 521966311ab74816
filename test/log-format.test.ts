// --log-format json: every stderr line is one JSON object (time, level, route, event, message, fields); a usage error too; text stays the default.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectTcp, readUntil, runPtyb, startPtyb, tcpServer } from './helpers/ptyb.js';
import { until } from './helpers/devices.js';

type Line = { time: string; level: string; route?: string; event: string; message: string } & Record<string, unknown>;

function parseLines(stderr: string): Line[] {
  const lines = stderr.split('\n').filter((l) => l !== '');
  return lines.map((l) => {
    const o = JSON.parse(l) as Line; // throws on any line that is not JSON
    assert.ok(!Number.isNaN(Date.parse(o.time)) && /Z$/.test(o.time), l);
    assert.ok(['error', 'warn', 'info', 'debug'].includes(o.level), l);
    assert.equal(typeof o.event, 'string', l);
    assert.equal(typeof o.message, 'string', l);
    return o;
  });
}

test("--log-format json: a config route's lines carry its name, events (listening, peer-connected, peer-left, stopping) and fields", {
  timeout: 30_000,
}, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ptyb-logjson-'));
  const file = join(dir, 'c.yaml');
  writeFileSync(file, 'version: 1\nroutes:\n  - { name: shell, left: "exec:cat?share", right: "tcp-listen:0" }\n');
  const pb = await startPtyb(['-v', '--log-format', 'json', '--config', file]);
  try {
    const s = await connectTcp(pb.listening[0]!.port);
    s.write('ping\n');
    // The shared exec runs in a pty: its echo, then cat's answer.
    assert.equal(await readUntil(s, 'ping\r\nping\r\n'), 'ping\r\nping\r\n');
    s.end();
    await until(() => pb.stderr().includes('"peer-left"'));
    assert.equal((await pb.stop()).code, 0);
    const lines = parseLines(pb.stderr());
    const listening = lines.find((l) => l.event === 'listening')!;
    assert.equal(listening.route, 'shell');
    assert.equal(listening.level, 'info'); // shown at the default level, but nothing is wrong (issue 23)
    assert.match(listening.message, /^listening on tcp 127\.0\.0\.1:\d+$/);
    assert.equal(listening.listener, listening.message.replace('listening on ', ''));
    const joined = lines.find((l) => l.event === 'peer-connected')!;
    assert.equal(joined.route, 'shell');
    assert.equal(joined.door, 'tcp-listen');
    assert.equal(joined.peers, 1);
    assert.match(String(joined.peer), /^tcp 127\.0\.0\.1:\d+$/);
    const left = lines.find((l) => l.event === 'peer-left')!;
    assert.deepEqual([left.peer, left.bytes_in, left.bytes_out, left.dropped], [joined.peer, 5, 12, false]);
    assert.ok(lines.some((l) => l.event === 'stopping' && l.signal === 'SIGTERM' && l.route === undefined));
  } finally {
    await pb.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('--log-format json: a usage error is one JSON line (exit 2); a bad format is refused; text is the default', async () => {
  const bad = await runPtyb(['--log-format', 'json', 'tcp-listen:0', 'tcp:nohost']);
  assert.equal(bad.code, 2);
  const [line, ...rest] = parseLines(bad.stderr);
  assert.equal(rest.length, 0, bad.stderr);
  assert.deepEqual([line!.level, line!.event, line!.code], ['error', 'usage-error', 'PTYB_ERR_USAGE']);
  assert.match(line!.message, /^tcp:nohost: expected host:port, got "nohost"$/);

  const format = await runPtyb(['--log-format', 'yaml', 'exec:cat', 'tcp-listen:0']);
  assert.equal(format.code, 2);
  assert.equal(format.stderr, 'ptybridge: --log-format: expected text or json, got "yaml"\n');

  const text = await runPtyb(['tcp-listen:0', 'tcp:nohost']);
  assert.equal(text.stderr, 'ptybridge: tcp:nohost: expected host:port, got "nohost"\n');
});

test('--log-format json: a per-peer route speaks the hub\'s vocabulary (peer-connected, peer-left with bytes), no bare "log" events; listening is info at the default level', {
  timeout: 30_000,
}, async () => {
  const upstream = await tcpServer((s) => s.on('data', (d: Buffer) => s.write(d.toString().toUpperCase())).on('end', () => s.end()));
  const quiet = await startPtyb(['--log-format', 'json', 'tcp-listen:0', `tcp:127.0.0.1:${upstream.port}`]);
  const pb = await startPtyb(['-v', '--log-format', 'json', 'tcp-listen:0', `tcp:127.0.0.1:${upstream.port}`]);
  try {
    const atDefault = parseLines(quiet.stderr()).find((l) => l.event === 'listening')!;
    assert.equal(atDefault.level, 'info');
    const s = await connectTcp(pb.listening[0]!.port);
    s.write('ping');
    assert.equal(await readUntil(s, 'PING'), 'PING');
    s.end();
    await until(() => pb.stderr().includes('"peer-left"'));
    const lines = parseLines(pb.stderr());
    const joined = lines.find((l) => l.event === 'peer-connected')!;
    assert.match(String(joined.peer), /^tcp 127\.0\.0\.1:\d+$/);
    assert.deepEqual([joined.level, joined.role, joined.door, joined.peers], ['info', 'full', 'tcp-listen', 1]);
    const left = lines.find((l) => l.event === 'peer-left')!;
    assert.deepEqual([left.peer, left.bytes_in, left.bytes_out, left.upstream], [joined.peer, 4, 4, `tcp 127.0.0.1:${upstream.port}`]);
    assert.deepEqual(
      lines.filter((l) => l.event === 'log').map((l) => l.message),
      [],
    );
  } finally {
    await quiet.stop();
    await pb.stop();
    await upstream.close();
  }
});

// --metrics: Prometheus text that promtool accepts, with exact per-console counts (device bytes both ways, peers by door, dropped, refused, reopens), /healthz and /api/consoles.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runPtyb, runTool, startPtyb } from './helpers/ptyb.js';
import { startFakeVm, until, type FakeVm } from './helpers/devices.js';
import { openPeer, TOKEN } from './helpers/ws.js';

const dir = mkdtempSync(join(tmpdir(), 'ptyb-metrics-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const link = (name: string) => join(dir, `vm-${name}`);

/** The metrics server's base URL, from its "metrics on" line. */
const metricsUrl = (stderr: string) => /metrics on (http:\/\/[^/\s]+)\/metrics/.exec(stderr)?.[1];

/** The value of one series in exposition text: `name{labels} value`. */
function series(text: string, name: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.slice(name.length + 1));
}

interface Api {
  consoles: {
    name: string;
    device: string;
    state: string;
    peers: number;
    peersByDoor: Record<string, number>;
    bytes: { fromDevice: number; toDevice: number };
    reopens: number;
    dropped: number;
    refusedBytes: number;
  }[];
}

test('--metrics: per-console series with exact counts, promtool check metrics passes, /healthz, /api/consoles; a lost device is down, then reopened', {
  timeout: 60_000,
}, async () => {
  const vms: Record<string, FakeVm> = { a: await startFakeVm(link('a')), b: await startFakeVm(link('b')) };
  const flood = randomBytes(24 * 1024 * 1024);
  writeFileSync(join(dir, 'flood.bin'), flood);
  const file = join(dir, 'm.yaml');
  writeFileSync(
    file,
    `version: 1
routes:
  - { name: a, left: "pty:${link('a')}", right: "ws-listen:0/console/a?token=${TOKEN}&view-token=watch-only" }
  - { name: b, left: "pty:${link('b')}?peer-queue=1M&replay=0", right: "tcp-listen:0" }
`,
  );
  const pb = await startPtyb(['-v', '--config', file, '--metrics', '0'], { listeners: 2 });
  const peers: { close(): void }[] = [];
  const sockets: net.Socket[] = [];
  try {
    const base = metricsUrl(pb.stderr());
    assert.ok(base, pb.stderr());
    await pb.logged(/metrics on http:\/\/127\.0\.0\.1:\d+\/metrics \(loopback only; --metrics 0\.0\.0\.0:\d+ to expose\)/);
    const api = async () => (await (await fetch(`${base}/api/consoles`)).json()) as Api;
    const [wsPort, tcpPort] = pb.listening.map((l) => l.port);

    // Console a: a typing peer and a watcher (view token) whose keystroke is refused.
    const typist = await openPeer(`ws://127.0.0.1:${wsPort}/console/a?token=${TOKEN}`);
    const watcher = await openPeer(`ws://127.0.0.1:${wsPort}/console/a?token=watch-only`);
    peers.push(typist, watcher);
    // Joiners are shown the screen as it is ("login: "); what comes later arrives as sent.
    vms.a!.say('console-a\r\n');
    await typist.text('console-a\r\n');
    typist.send('hello\r');
    await vms.a!.waitReceived('hello\r');
    watcher.send('x');

    // Console b: a TCP peer that never reads, while 24 MiB flow: it is dropped.
    const stalled = net.connect(tcpPort!, '127.0.0.1');
    sockets.push(stalled);
    stalled.pause();
    stalled.on('error', () => {});
    await until(() => pb.stderr().includes('(1 peer)'));
    await vms.b!.sendFile(join(dir, 'flood.bin'));
    await until(() => pb.stderr().includes('dropped, not reading'));

    // Counts settle (the hub may still be reading the flood, the refusal may be in flight).
    const wantB = 'login: '.length + flood.length;
    await until(
      async () => {
        const c = (await api()).consoles;
        return c[0]?.refusedBytes === 1 && c[1]?.bytes.fromDevice === wantB && c[1]?.peers === 0;
      },
      {
        step: 50,
        what: `the counts to settle (1 refused byte, ${wantB} from the device, 0 peers)`,
        detail: async () => JSON.stringify((await api()).consoles),
      },
    );

    const res = await fetch(`${base}/metrics`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    const check = await runTool('promtool', ['check', 'metrics'], { input: text });
    assert.equal(check.code, 0, `promtool: ${check.stdout}${check.stderr}`);

    assert.equal(series(text, 'ptybridge_consoles'), 2);
    assert.equal(series(text, 'ptybridge_console_up{console="a"}'), 1);
    assert.equal(series(text, 'ptybridge_console_device_read_bytes_total{console="a"}'), 'login: console-a\r\n'.length);
    assert.equal(series(text, 'ptybridge_console_device_written_bytes_total{console="a"}'), 'hello\r'.length);
    assert.equal(series(text, 'ptybridge_console_input_refused_bytes_total{console="a"}'), 1, "the watcher's keystroke");
    assert.equal(series(text, 'ptybridge_console_peers{console="a",door="ws-listen"}'), 2);
    assert.equal(series(text, 'ptybridge_console_peers_dropped_total{console="a"}'), 0);
    assert.equal(series(text, 'ptybridge_console_peers_dropped_total{console="b"}'), 1);
    assert.equal(series(text, 'ptybridge_console_peers{console="b",door="tcp-listen"}'), 0);
    assert.equal(series(text, 'ptybridge_console_device_read_bytes_total{console="b"}'), wantB);
    assert.equal(series(text, 'ptybridge_console_reopens_total{console="b"}'), 0);
    assert.equal(series(text, `ptybridge_console_info{console="a",device="pty ${link('a')}"}`), 1);
    for (const name of [
      'process_resident_memory_bytes',
      'process_cpu_seconds_total',
      'process_open_fds',
      'process_start_time_seconds',
      'ptybridge_uptime_seconds',
    ]) {
      assert.ok((series(text, name) ?? 0) > 0, `${name} in\n${text}`);
    }

    const health = await fetch(`${base}/healthz`);
    assert.equal(health.status, 200);
    assert.equal(await health.text(), 'ok\n');
    const a = (await api()).consoles[0]!;
    assert.deepEqual(a, {
      name: 'a',
      device: `pty ${link('a')}`,
      state: 'up',
      peers: 2,
      peersByDoor: { 'ws-listen': 2 },
      bytes: { fromDevice: 18, toDevice: 6 },
      reopens: 0,
      dropped: 0,
      refusedBytes: 1,
    });
    assert.equal((await fetch(`${base}/nothing`)).status, 404);
    assert.equal((await fetch(`${base}/metrics`, { method: 'POST' })).status, 405);

    // The VM behind a powers off: down; it boots again on the same link: up, one reopen.
    await vms.a!.quit();
    await until(() => pb.stderr().includes('lost'));
    assert.equal((await api()).consoles[0]!.state, 'down');
    vms.a = await startFakeVm(link('a'));
    await typist.text('is back');
    const back = await (await fetch(`${base}/metrics`)).text();
    assert.equal(series(back, 'ptybridge_console_up{console="a"}'), 1);
    assert.equal(series(back, 'ptybridge_console_reopens_total{console="a"}'), 1);
  } catch (err) {
    process.stderr.write(`ptybridge said:\n${pb.stderr().slice(-3000)}\n`);
    throw err;
  } finally {
    peers.forEach((p) => p.close());
    sockets.forEach((s) => s.destroy());
    assert.equal((await pb.stop()).code, 0);
    await Promise.all(Object.values(vms).map((v) => v.quit()));
  }
});

test('--metrics: a bad address is a usage error (exit 2, one line); a port in use fails naming --metrics and EADDRINUSE (exit 1)', async () => {
  const bad = await runPtyb(['--metrics', 'nine', 'exec:cat', 'tcp-listen:0']);
  assert.equal(bad.code, 2);
  assert.equal(
    bad.stderr,
    'ptybridge: --metrics: expected [HOST:]PORT (a bare port listens on loopback only), got "nine" (bad port "nine": expected a number 0-65535)\n',
  );
  const busy = net.createServer();
  await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
  try {
    const port = (busy.address() as net.AddressInfo).port;
    const r = await runPtyb(['--metrics', String(port), 'exec:cat', 'tcp-listen:0']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`^ptybridge: --metrics 127\\.0\\.0\\.1:${port}: EADDRINUSE`));
    assert.equal(r.stderr.split('\n').length, 2, r.stderr);
  } finally {
    busy.close();
  }
});

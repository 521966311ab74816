// A real QEMU guest's serial socket shared by ?share (unix:, tcp:): two peers on one console, across a VM restart.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import WebSocket from 'ws';
import { freePort, runPtyb, spawnTracked, startPtyb } from './helpers/ptyb.js';
import { guestEvents, guestFiles, PROMPT, startGuest, stopGuest } from './helpers/qemu.js';
import { connectPeer, readText, until } from './helpers/devices.js';

const TOKEN = 'qemu-console-token';
const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * If the test times out, prints what each side saw (the test runner only says "timed out"):
 * the guest's events, ptybridge's log and every peer's screen.
 */
function reportOnTimeout(t: { signal: AbortSignal }, what: () => Record<string, string>): { done(): void } {
  let finished = false;
  t.signal.addEventListener('abort', () => {
    if (finished) return;
    for (const [name, text] of Object.entries({ guest: guestEvents.join('\n'), ...what() })) console.error(`--- ${name}:\n${text}`);
  });
  return { done: () => (finished = true) };
}

/** Everything a WebSocket peer has received, as text, with a way to wait for what comes next. */
class Screen {
  text = '';
  closed = false;
  /** `signal`: the test's, so that a timed-out test stops waiting and its `finally` stops QEMU. */
  constructor(
    readonly ws: WebSocket,
    private readonly signal: AbortSignal,
  ) {
    ws.on('message', (data: Buffer) => (this.text += data.toString('latin1')));
    ws.once('close', () => (this.closed = true));
  }

  /**
   * Connects a peer, listening before the socket opens: the hub sends the replay at once, and
   * `ws` may emit it in the same tick as 'open', before an `await openWs()` caller could listen.
   */
  static async open(url: string, signal: AbortSignal): Promise<Screen> {
    const ws = new WebSocket(url, ['binary'], { perMessageDeflate: false });
    const screen = new Screen(ws, signal);
    await once(ws, 'open');
    return screen;
  }

  /** Waits until `needle` appears at or after `from`; resolves with the index just past it. */
  async after(needle: string, from: number): Promise<number> {
    await until(() => this.text.indexOf(needle, from) >= 0 || this.closed || this.signal.aborted);
    const at = this.text.indexOf(needle, from);
    assert.ok(at >= 0, `peer closed before ${JSON.stringify(needle)}; it got ${JSON.stringify(this.text.slice(from).slice(-400))}`);
    return at + needle.length;
  }

  type(line: string): void {
    this.ws.send(Buffer.from(`${line}\r`));
  }
}

test('unix:SOCK?share behind ws-listen: two browsers share one QEMU console, from before the VM starts and through its restart', {
  timeout: 180_000,
}, async (t) => {
  const files = await guestFiles();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ptyb-qemu-'));
  const sock = path.join(dir, 'vm1.serial0');
  const serial = `unix:${sock},server=on,wait=off`;
  const uri = `unix:${sock}?share&retry=2&interval=50ms`;
  // ptybridge starts before the VM: after its ?retry tries it serves the page and waits.
  const pb = await startPtyb(['-v', uri, `ws-listen:0?token=${TOKEN}`]);
  let qemu: ChildProcess | undefined;
  const screens: Screen[] = [];
  const report = reportOnTimeout(t, () => ({ ptybridge: pb.stderr(), ...Object.fromEntries(screens.map((sc, i) => [`peer ${i}`, JSON.stringify(sc.text)])) }));
  try {
    await pb.logged(new RegExp(`${escape(uri)}: ENOENT \\(no such file or directory\\); waiting for it`));
    const url = `ws://127.0.0.1:${pb.listening[0]!.port}/?token=${TOKEN}`;
    const a = await Screen.open(url, t.signal);
    screens.push(a);
    let atA = await a.after(`\r\n[ptybridge: device ${uri} is down; waiting for it]\r\n`, 0);
    qemu = startGuest(files, serial);
    // Absent at start, so it comes up (not back: it was never there).
    atA = await a.after(`\r\n[ptybridge: device ${uri} is up]\r\n`, atA);
    atA = await a.after(PROMPT, atA);
    // A second browser joins the running console: the replay shows it the shell.
    const b = await Screen.open(url, t.signal);
    screens.push(b);
    let at = [atA, await b.after(PROMPT, 0)];

    // Typed in one browser, answered in both: the guest's echo of the line, then its output.
    a.type('echo $((6*7))');
    const answer = 'echo $((6*7))\r\n42\r\n' + PROMPT;
    at = await Promise.all([a.after(answer, at[0]!), b.after(answer, at[1]!)]);

    // The VM stops (killed: no goodbye on the socket) and starts again on the same path.
    await stopGuest(qemu);
    const lost = `\r\n[ptybridge: device ${uri} lost: closed by the other side; reopening]\r\n`;
    at = await Promise.all([a.after(lost, at[0]!), b.after(lost, at[1]!)]);
    // The VM stays down until a reconnect has failed (the socket file is left, refusing).
    await until(() => pb.stderr().includes(`reopening ${uri}: `, pb.stderr().indexOf(' lost: ')) || t.signal.aborted);
    qemu = startGuest(files, serial);
    const back = `\r\n[ptybridge: device ${uri} is back]\r\n`;
    at = await Promise.all([a.after(back, at[0]!), b.after(back, at[1]!)]);
    at = await Promise.all([a.after(PROMPT, at[0]!), b.after(PROMPT, at[1]!)]);
    assert.equal(a.closed || b.closed, false, 'both peers stayed connected');

    // The new guest answers the other browser, and both see it.
    b.type('echo $((7*8))');
    const answer2 = 'echo $((7*8))\r\n56\r\n' + PROMPT;
    await Promise.all([a.after(answer2, at[0]!), b.after(answer2, at[1]!)]);
    // Reconnecting is the hub's backoff, logged once per new error, not ?retry's quick tries
    // (those were for the first connect).
    const sinceLoss = pb.stderr().slice(pb.stderr().indexOf(' lost: '));
    assert.match(sinceLoss, new RegExp(`unix ${sock} is back`));
    assert.doesNotMatch(sinceLoss, /retrying in/);
    report.done();
  } finally {
    for (const s of screens) s.ws.terminate();
    await pb.stop();
    await stopGuest(qemu);
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('tcp:HOST:PORT?share: a QEMU -serial tcp: console behind a web page and a telnet door; typed on telnet, answered in the browser', {
  timeout: 120_000,
}, async (t) => {
  const files = await guestFiles();
  const port = await freePort();
  const qemu = startGuest(files, `tcp:127.0.0.1:${port},server=on,wait=off`);
  let pb: Awaited<ReturnType<typeof startPtyb>> | undefined;
  let screen: Screen | undefined;
  let telnet: ChildProcess | undefined;
  let seen = '';
  const report = reportOnTimeout(t, () => ({ ptybridge: pb?.stderr() ?? '', browser: JSON.stringify(screen?.text), telnet: JSON.stringify(seen) }));
  try {
    pb = await startPtyb(['-v', `tcp:127.0.0.1:${port}?share`, `ws-listen:0?token=${TOKEN}`, 'tcp-listen:0?telnet'], { listeners: 2 });
    screen = await Screen.open(`ws://127.0.0.1:${pb.listening[0]!.port}/?token=${TOKEN}`, t.signal);
    let at = await screen.after(PROMPT, 0);
    // The real telnet client on the telnet door types; the browser sees the answer.
    telnet = spawnTracked('/usr/bin/telnet', ['127.0.0.1', String(pb.listening[1]!.port)]);
    telnet.stdout!.on('data', (d: Buffer) => (seen += d.toString('latin1')));
    await until(() => seen.includes(PROMPT) || t.signal.aborted);
    telnet.stdin!.write('echo $((6*7))\r\n');
    at = await screen.after('\r\n42\r\n', at);
    await until(() => seen.includes('\n42\r') || t.signal.aborted);
    assert.match(seen, /\n42\r/);
    report.done();
  } finally {
    screen?.ws.terminate();
    telnet?.kill('SIGKILL');
    await pb?.stop();
    await stopGuest(qemu);
  }
});

test('?share opens one connection for all peers and reconnects when the server closes it (a one-client server)', async () => {
  // A console server that takes one client at a time, as QEMU does; it counts connections.
  const conns: net.Socket[] = [];
  const server = net.createServer((s) => {
    conns.push(s);
    s.on('error', () => {});
    s.write(`hello #${conns.length}\r\n`);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as net.AddressInfo).port;
  const uri = `tcp:127.0.0.1:${port}?share`;
  const pb = await startPtyb([uri, 'tcp-listen:0']);
  const peers: net.Socket[] = [];
  try {
    const read: string[] = ['', ''];
    for (const i of [0, 1]) {
      const p = net.connect(pb.listening[0]!.port, '127.0.0.1');
      p.on('error', () => {});
      p.on('data', (d: Buffer) => (read[i] += d.toString('latin1')));
      peers.push(p);
    }
    await until(() => read.every((r) => r.includes('hello #1\r\n')));
    peers[0]!.write('from-0\n');
    peers[1]!.write('from-1\n');
    let got = '';
    conns[0]!.on('data', (d: Buffer) => (got += d.toString('latin1')));
    await until(() => got.includes('from-0\n') && got.includes('from-1\n'));
    assert.equal(conns.length, 1, 'two peers, one connection to the console');

    conns[0]!.end(); // the server side closes: the VM stopped
    const lost = `\r\n[ptybridge: device ${uri} lost: closed by the other side; reopening]\r\n`;
    const back = `\r\n[ptybridge: device ${uri} is back]\r\n`;
    await until(() => read.every((r) => r.includes(back) && r.includes('hello #2\r\n')));
    // Exactly: the first connection's greeting (replayed to whoever joined after it), the
    // loss, the return, then the second connection's greeting.
    for (const r of read) assert.equal(r, `hello #1\r\n${lost}${back}hello #2\r\n`);
    assert.equal(conns.length, 2);
  } finally {
    for (const p of peers) p.destroy();
    await pb.stop();
    for (const c of conns) c.destroy();
    server.close();
  }
});

test('?share takes a flag: a bad value names the URI and the option (exit 2)', async () => {
  for (const [uri, shown] of [
    ['unix:/tmp/x.sock?share=maybe', 'unix:/tmp/x.sock?share=maybe'],
    ['tcp:127.0.0.1:1?share=2', 'tcp:127.0.0.1:1?share=2'],
  ] as const) {
    const r = await runPtyb([uri, 'tcp-listen:0']);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, new RegExp(`${shown.replace(/[?.]/g, '\\$&')}.*share.*true\\|false`));
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  }
});

test('a config of VM consoles starts with one VM off: every route serves, the absent socket is waited for', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ptyb-vms-'));
  const up = net.createServer((s) => s.end('vm2 console\r\n'));
  up.listen(0, '127.0.0.1');
  await once(up, 'listening');
  const off = `unix:${dir}/101.serial0?share`;
  const file = path.join(dir, 'consoles.yaml');
  fs.writeFileSync(
    file,
    [
      'version: 1',
      'routes:',
      `  - { name: vm1, left: "${off}", right: "tcp-listen:0" }`,
      `  - { name: vm2, left: "tcp:127.0.0.1:${(up.address() as net.AddressInfo).port}?share", right: "tcp-listen:0" }`,
    ].join('\n'),
  );
  const pb = await startPtyb(['--config', file], { listeners: 2 });
  try {
    const [vm1, vm2] = await Promise.all(pb.listening.map((l) => connectPeer(l.port)));
    assert.equal(await readText(vm1!, ']\r\n'), `\r\n[ptybridge: device ${off} is down; waiting for it]\r\n`);
    assert.equal(await readText(vm2!, 'vm2 console\r\n'), 'vm2 console\r\n');
    await pb.logged(/\[vm1\] unix:\S+101\.serial0\?share: ENOENT \(no such file or directory\); waiting for it/);
    vm1!.destroy();
    vm2!.destroy();
  } finally {
    await pb.stop();
    up.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

// The interactive client in a real terminal (tmux): raw mode, ~ escapes, the terminal restored on every way out.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type net from 'node:net';
import { PTYBRIDGE, runTool, tcpServer } from './helpers/ptyb.js';
import { inTmux } from './helpers/tmux.js';
import { until } from './helpers/until.js';
import { EscapeFilter, parseEscapeChar } from '../src/protocols/escapes.js';

test('escape filter: only at line start; ~~ sends ~; ~x sends both; split across chunks', () => {
  const run = (chunks: string[], esc = 0x7e) => {
    const f = new EscapeFilter(esc);
    const out: string[] = [];
    for (const c of chunks) for (const e of f.feed(Buffer.from(c))) out.push(e.type === 'data' ? e.data.toString() : `<${e.type}>`);
    return out.join('');
  };
  assert.equal(run(['~.']), '<disconnect>');
  assert.equal(run(['ab~.']), 'ab~.');
  assert.equal(run(['ab\r~', 'b']), 'ab\r<break>');
  assert.equal(run(['~~x\r~?']), '~x\r<help>');
  assert.equal(run(['~q']), '~q');
  assert.equal(run(['\n', '~', '.']), '\n<disconnect>');
  assert.equal(run(['^].'], 0x1d), '^].');
  assert.equal(run(['\x1d.'], parseEscapeChar('^]')), '<disconnect>');
  const none = new EscapeFilter(parseEscapeChar('none'));
  assert.deepEqual(none.feed(Buffer.from('~.')), [{ type: 'data', data: Buffer.from('~.') }]);
});

const restored = (stty: string) => {
  assert.match(stty, /(^|\s)icanon(\s|$)/, 'icanon back on');
  assert.match(stty, /(^|\s)echo(\s|$)/, 'echo back on');
};

test('stdio: at a terminal: raw mode, typed text reaches a tcp echo server, ~. disconnects and the terminal is restored', async () => {
  const echo = await tcpServer((s) => {
    // ~. leaves with echoes still in flight: the kernel answers them with a reset, which ends
    // this socket like any close (not a failure of the test).
    s.on('error', () => {});
    s.pipe(s);
  });
  const t = await inTmux(['-', `tcp:127.0.0.1:${echo.port}`]);
  try {
    await t.waitFor(/~\. disconnects/);
    assert.match(await t.stty(), /-icanon/, 'raw while connected');
    await t.tmux('send-keys', '-l', 'hello-echo');
    const s = await t.waitFor(/hello-echo/);
    // Raw mode: no local echo, so the text shows once (the server's echo).
    assert.equal(s.match(/hello-echo/g)!.length, 1, s);
    await t.tmux('send-keys', 'Enter');
    await t.tmux('send-keys', '-l', '~.');
    await t.waitFor(/EXITED=0/);
    restored(await t.stty());
  } finally {
    await t.close();
    await echo.close();
  }
});

test('stdio: at a terminal: ~b sends BREAK (IAC BRK through tcp:?telnet), ~~ sends one ~, ~? lists escapes; SIGTERM restores the terminal', async () => {
  let wire = Buffer.alloc(0);
  let server!: net.Socket;
  const up = await tcpServer((s) => {
    server = s;
    s.on('data', (d: Buffer) => (wire = Buffer.concat([wire, d])));
  });
  const t = await inTmux(['-', `tcp:127.0.0.1:${up.port}?telnet`]);
  try {
    await t.waitFor(/disconnects/);
    await t.tmux('send-keys', '-l', '~?');
    await t.waitFor(/send BREAK/);
    await t.tmux('send-keys', '-l', '~b');
    await t.tmux('send-keys', '-l', '~~x');
    await until(() => wire.includes(Buffer.from('~x')), { timeout: 10_000, what: '"~x" on the wire', detail: () => wire.toString('hex') });
    // The telnet client opened with its own negotiation; after it, BRK then "~x" (never "~~x").
    assert.ok(wire.includes(Buffer.of(0xff, 0xf3)), `IAC BRK on the wire: ${wire.toString('hex')}`);
    assert.ok(wire.indexOf(Buffer.of(0xff, 0xf3)) < wire.indexOf(Buffer.from('~x')));
    assert.ok(!wire.includes(Buffer.from('~~')));
    assert.ok(!wire.includes(Buffer.from('~?')));
    process.kill(t.ptybPid(), 'SIGTERM');
    await t.waitFor(/EXITED=\d/);
    restored(await t.stty());
    void server;
  } finally {
    await t.close();
    await up.close();
  }
});

test('stdio: --escape none passes ~. through as data', async () => {
  let wire = '';
  let connected = false;
  const up = await tcpServer((s) => {
    connected = true;
    s.on('data', (d: Buffer) => (wire += d.toString()));
  });
  const t = await inTmux(['--escape', 'none', '-', `tcp:127.0.0.1:${up.port}`]);
  try {
    // Keys go in once ptybridge has connected and put its terminal in raw mode (else the tty would cook "~.").
    await until(async () => connected && /-icanon/.test(await t.stty()), { timeout: 10_000, what: 'ptybridge to connect and make its terminal raw' });
    await t.tmux('send-keys', '-l', '~.');
    await until(() => wire.includes('~.'), { timeout: 10_000, what: '"~." on the wire', detail: () => JSON.stringify(wire) });
    assert.equal(wire, '~.');
    const r = await runTool(process.execPath, [PTYBRIDGE, '--escape', 'xy', '-', 'tcp:127.0.0.1:1']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--escape expects one character/);
  } finally {
    await t.close();
    await up.close();
  }
});

// exec: on a pty (per peer and ?share), on pipes, the argv splitter, and resize reaching the program.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type net from 'node:net';
import { readAll, startPtyb } from './helpers/ptyb.js';
import { readText, specFor, until, connectPeer } from './helpers/devices.js';
import { splitArgs, parseEnvList } from '../src/endpoints/argv.js';
import { exec } from '../src/endpoints/exec.js';
import { tcpListen } from '../src/endpoints/tcp.js';
import type { ConnectingType, ListeningType, Spec } from '../src/core/endpoint.js';
import type { Link } from '../src/core/link.js';
import { createLogger } from '../src/log.js';
import { runHub } from '../src/router/hub.js';

test('argv splitting: quotes and backslashes, no shell', () => {
  assert.deepEqual(splitArgs(`echo 'a b' "c \\"d\\" $e" f\\ g h`), { argv: ['echo', 'a b', 'c "d" $e', 'f g', 'h'] });
  assert.deepEqual(splitArgs(`sh -c 'echo $HOME; ls'`), { argv: ['sh', '-c', 'echo $HOME; ls'] });
  assert.deepEqual(splitArgs(`a ''`), { argv: ['a', ''] });
  assert.ok('error' in splitArgs(`echo 'open`));
  assert.ok('error' in splitArgs(`echo "open`));
  assert.deepEqual(parseEnvList('A=1,B=x\\,y,C='), [
    ['A', '1'],
    ['B', 'x,y'],
    ['C', ''],
  ]);
  assert.equal(parseEnvList('1A=x'), undefined);
});

test('exec:sh behind tcp-listen: each peer gets its own shell; a typed command runs; cols/rows, env and cwd apply', async () => {
  const pb = await startPtyb(['-v', 'exec:sh?cols=100&rows=30&env=GREETING=hello\\,world&cwd=/tmp', 'tcp-listen:0']);
  try {
    const a = await connectPeer(pb.listening[0]!.port);
    const b = await connectPeer(pb.listening[0]!.port);
    a.write('echo "[$((6*7))]"; stty size; echo "<$GREETING>"; pwd; echo $$ > /dev/null\n');
    const out = await readText(a, '/tmp\r\n');
    assert.match(out, /\[42\]\r\n30 100\r\n<hello,world>\r\n\/tmp\r\n/);
    b.write('echo "[b$((1+1))]"; exit 7\n');
    const outB = (await readAll(b)).toString();
    assert.match(outB, /\[b2\]/);
    assert.ok(!outB.includes('[42]'), 'b sees only its own shell');
    await until(() => /exited with status 7/.test(pb.stderr()));
    a.end('exit\n');
    const rest = readAll(a);
    a.resume(); // readText leaves it paused
    await rest;
  } finally {
    await pb.stop();
  }
});

test('exec:...?pipes: plain pipes like socat EXEC, binary-clean, EOF passes through', async () => {
  const pb = await startPtyb(['exec:od -An -tx1?pipes', 'tcp-listen:0']);
  try {
    const c = await connectPeer(pb.listening[0]!.port);
    c.end(Buffer.from([0, 13, 10, 255]));
    const out = (await readAll(c)).toString();
    assert.equal(out.trim(), '00 0d 0a ff');
  } finally {
    await pb.stop();
  }
});

test('exec:...?share: one session for every peer, and a resize control from a peer reaches the program', async () => {
  const device = { type: exec as ConnectingType, spec: (await specFor('exec:sh?share', exec)) as Spec };
  const listenSpec = (await specFor('tcp-listen:0', tcpListen)) as Spec;
  const peers: Link[] = [];
  let port = 0;
  // tcp-listen itself, with the accepted links kept so that the test can emit a control
  // on one, as a browser's ws link would.
  const spy: ListeningType = {
    ...(tcpListen as ListeningType),
    async listen(spec, onLink, ctx) {
      const l = await (tcpListen as ListeningType).listen(
        spec,
        (link) => {
          peers.push(link);
          onLink(link);
        },
        ctx,
      );
      port = Number(/:(\d+)$/.exec(l.label)![1]);
      return l;
    },
  };
  const log = createLogger('error');
  const abort = new AbortController();
  const route = await runHub(device, [{ type: spy, spec: listenSpec }], { log }, { log, signal: abort.signal }, abort);
  try {
    const a: net.Socket = await connectPeer(port);
    const b: net.Socket = await connectPeer(port);
    await until(() => peers.length === 2);
    peers[0]!.stream.emit('control', { type: 'resize', cols: 123, rows: 45 });
    a.write('stty size\n');
    await readText(a, '45 123\r\n');
    await readText(b, '45 123\r\n'); // b watches the same session
    b.write('echo "from-b-$((2*3))"\n');
    await readText(a, 'from-b-6');
    a.destroy();
    b.destroy();
  } finally {
    await route.stop();
    assert.equal(await route.done, 0);
  }
});

test('exec: a missing command is refused at start (exit 2, issue 23: it used to fail only per peer); a bad quote is a usage error (exit 2)', async () => {
  const { runPtyb } = await import('./helpers/ptyb.js');
  const missing = await runPtyb(['exec:no-such-command-xyz', 'tcp:127.0.0.1:9']);
  assert.equal(missing.code, 2);
  assert.equal(missing.stderr, 'ptybridge: exec:no-such-command-xyz: command "no-such-command-xyz" not found in PATH\n');
  const bad = await runPtyb([`exec:echo 'unterminated`, 'tcp-listen:0']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /unterminated single quote/);
});

test('exec: the command is percent-decoded once (%3F is ?, %25 is %), + stays a plus, ?env= keeps its +', async () => {
  const { runPtyb } = await import('./helpers/ptyb.js');
  const r = await runPtyb(['exec:/bin/sh -c \'echo "a%3Fb c%25d e+f $A"\'?pipes&env=A=a+b%26c', '-'], { input: '' });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.toString(), 'a?b c%d e+f a+b&c\n');
});

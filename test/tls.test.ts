// tls: and tls-listen: against real peers (socat OPENSSL, openssl s_client, pyserial through a TLS tunnel), with certificates openssl makes here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createReadStream, readFileSync, writeFileSync } from 'node:fs';
import tls from 'node:tls';
import { WebSocket } from 'ws';
import { join } from 'node:path';
import {
  acceptOne,
  connectTcp,
  freePort,
  readUntil,
  runPtyb,
  runTool,
  spawnTracked,
  startPtyb,
  transferBothWays,
  waitForPort,
  type Running,
} from './helpers/ptyb.js';
import { ptyPair, startFakeVm, until } from './helpers/devices.js';
import { makePki, type Pair } from './helpers/certs.js';
import { inTmux } from './helpers/tmux.js';

const pki = makePki();
test.after(() => pki.remove());

const serverOpts = (extra = '') => `cert=${pki.server.cert}&key=${pki.server.key}${extra}`;

/** A Node TLS client (the tests' own peer), resolved once the handshake is done. */
async function tlsClient(port: number, who?: Pair): Promise<tls.TLSSocket> {
  const s = tls.connect({
    host: '127.0.0.1',
    port,
    servername: 'localhost',
    ca: readFileSync(pki.ca),
    ...(who ? { cert: readFileSync(who.cert), key: readFileSync(who.key) } : {}),
    allowHalfOpen: true,
  } as tls.ConnectionOptions);
  await once(s, 'secureConnect');
  return s;
}

/** socat OPENSSL-LISTEN (fork) as a TLS server in front of `to`; resolves once it accepts. */
async function socatTlsServer(server: Pair, to: string): Promise<{ port: number; stop(): void }> {
  const port = await freePort();
  const proc = spawnTracked('socat', [`OPENSSL-LISTEN:${port},bind=127.0.0.1,reuseaddr,fork,cert=${server.cert},key=${server.key},verify=0`, to]);
  await waitForPort(port); // a probe that never handshakes: socat's child gives up on it, and opens nothing
  return { port, stop: () => proc.kill() };
}

test('tls-listen → tcp: 10 MiB both ways at once, byte-exact', async () => {
  const upstream = await acceptOne();
  const pb = await startPtyb([`tls-listen:0?${serverOpts()}`, `tcp:127.0.0.1:${upstream.port}`]);
  try {
    assert.equal(pb.listening[0]!.scheme, 'tls');
    await transferBothWays(await tlsClient(pb.listening[0]!.port), await upstream.first);
  } finally {
    await pb.stop();
    await upstream.close();
  }
});

test('tcp-listen → tls: with socat OPENSSL-LISTEN as the server: 10 MiB both ways at once, byte-exact', async () => {
  const far = await acceptOne();
  const socat = await socatTlsServer(pki.server, `TCP:127.0.0.1:${far.port}`);
  const pb = await startPtyb(['tcp-listen:0', `tls:localhost:${socat.port}?ca=${pki.ca}`]);
  try {
    const client = await connectTcp(pb.listening[0]!.port);
    await transferBothWays(client, await far.first);
  } finally {
    await pb.stop();
    socat.stop();
    await far.close();
  }
});

test('tls: refuses a server whose certificate is expired, for another name or from an unknown CA: one line naming what failed, exit 1', async () => {
  const good = await socatTlsServer(pki.server, 'EXEC:cat');
  const old = await socatTlsServer(pki.serverExpired, 'EXEC:cat');
  try {
    const cases: [string, string][] = [
      [`tls:localhost:${old.port}?ca=${pki.ca}`, `the server's certificate was refused: CERT_HAS_EXPIRED: certificate has expired`],
      [
        `tls:127.0.0.1:${good.port}?ca=${pki.ca}&servername=console.lab`,
        `the server's certificate was refused: ERR_TLS_CERT_ALTNAME_INVALID: Hostname/IP does not match certificate's altnames: Host: console.lab. is not in the cert's altnames: DNS:localhost, IP Address:127.0.0.1`,
      ],
      [
        `ssl:localhost:${good.port}?ca=${pki.otherCa}`,
        `the server's certificate was refused: UNABLE_TO_VERIFY_LEAF_SIGNATURE: unable to verify the first certificate`,
      ],
    ];
    for (const [uri, why] of cases) {
      const r = await runPtyb(['-', uri], { input: 'secret\n' });
      assert.equal(r.stderr, `ptybridge: ${uri}: ${why}\n`);
      assert.equal(r.code, 1);
      assert.equal(r.stdout.length, 0);
    }
    // The right CA and name: the echo comes back.
    const ok = await runPtyb(['-', `openssl:localhost:${good.port}?ca=${pki.ca}`], { input: 'hello over tls\n' });
    assert.equal(ok.stdout.toString(), 'hello over tls\n', ok.stderr);
    assert.equal(ok.code, 0);
  } finally {
    good.stop();
    old.stop();
  }
});

/** Runs `socat - OPENSSL:…` once with `input`; resolves with what came back. */
async function socatClient(port: number, who: Pair | undefined, input: string) {
  const id = who ? `,cert=${who.cert},key=${who.key}` : '';
  return runTool('socat', ['-t', '2', '-', `OPENSSL:127.0.0.1:${port},cafile=${pki.ca},commonname=localhost${id}`], { input });
}

test('tls-listen?client-ca: socat OPENSSL and openssl s_client with the right CA get in; wrong CA, no certificate, expired: refused, told nothing, one line each', async () => {
  // The console speaks first: a refused peer must not see its banner.
  const pb = await startPtyb(['-v', 'exec:echo console-banner', `tls-l:0?${serverOpts(`&client-ca=${pki.ca}`)}`]);
  const port = pb.listening[0]!.port;
  try {
    const alice = await socatClient(port, pki.alice, '');
    assert.equal(alice.stdout.toString(), 'console-banner\r\n', alice.stderr); // exec: runs in a pty
    const sClient = await runTool(
      '/usr/bin/openssl',
      ['s_client', '-quiet', '-connect', `127.0.0.1:${port}`, '-CAfile', pki.ca, '-cert', pki.bob.cert, '-key', pki.bob.key],
      { input: '' },
    );
    assert.match(sClient.stdout.toString(), /console-banner\r\n/);
    for (const [who, why] of [
      [pki.mallory, 'client certificate CN=mallory refused: UNABLE_TO_VERIFY_LEAF_SIGNATURE (not signed by a CA of client-ca)'],
      [undefined, 'no client certificate (?client-ca= requires one)'],
      [pki.expired, 'client certificate CN=old refused: CERT_HAS_EXPIRED (certificate has expired)'],
    ] as const) {
      const before = pb.stderr().length;
      const r = await socatClient(port, who, 'typed\n');
      assert.equal(r.stdout.length, 0, `${why}: ${r.stdout}`);
      await until(() => pb.stderr().slice(before).includes(why));
      assert.match(pb.stderr().slice(before), new RegExp(`tls-l:0\\?\\S+: refused tls 127\\.0\\.0\\.1:\\d+: ${why.replace(/[?()]/g, '\\$&')}\n`));
    }
    const eve = await runTool(
      '/usr/bin/openssl',
      ['s_client', '-quiet', '-connect', `127.0.0.1:${port}`, '-CAfile', pki.ca, '-cert', pki.mallory.cert, '-key', pki.mallory.key],
      { input: '' },
    );
    assert.doesNotMatch(eve.stdout.toString(), /console-banner/);
    assert.equal(pb.stderr().match(/ connected( \(\d+ peers?\))?\n/g)?.length, 2, `only alice and bob got in:\n${pb.stderr()}`);
  } finally {
    await pb.stop();
  }
});

test('a view certificate watches and cannot type (exact bytes at the device); names in the log; removed from the users file + SIGHUP: closed at once', async () => {
  const vm = await startFakeVm();
  const users = join(pki.dir, 'users');
  writeFileSync(
    users,
    ['# by name (any certificate of client-ca for alice), by fingerprint', 'alice full cert', `bob view ${pki.fingerprint(pki.bob.cert)}`, ''].join('\n'),
  );
  const log = join(pki.dir, 'view-cert.log');
  // A web door next to the TLS one: its index lists who is on the console.
  const pb = await startPtyb(
    [
      '-v',
      '--log',
      log,
      `pty:${vm.slave}?replay=0&log-input`,
      `tls-listen:0?${serverOpts(`&client-ca=${pki.ca}&users=${users}`)}`,
      'ws-listen:0/con?token=index-token',
    ],
    { listeners: 2 },
  );
  try {
    const port = pb.listening[0]!.port;
    const web = pb.listening[1]!;
    const bob = await tlsClient(port, pki.bob);
    bob.on('error', () => {});
    await until(() => pb.stderr().includes('(bob) connected'));
    bob.write('bob-typed\r');
    assert.match(await readUntil(bob, 'read-only'), /read-only: you may watch, not type/);
    const alice = await tlsClient(port, pki.alice);
    await until(() => pb.stderr().includes('(alice) connected'));
    alice.write('alice-typed\r');
    await vm.waitReceived('alice-typed\r');
    assert.equal(vm.received().toString(), 'alice-typed\r');
    vm.say('to-everyone\n');
    await readUntil(bob, 'to-everyone');
    await readUntil(alice, 'to-everyone');
    // The certificates' names are who the index lists, and who the transcript says typed.
    const index = await fetch(`http://127.0.0.1:${web.port}/_ptybridge/consoles.json`, { headers: { Authorization: 'Bearer index-token' } });
    const [con] = ((await index.json()) as { consoles: { path: string; who: { name: string; doing: string }[] }[] }).consoles;
    assert.deepEqual(
      { path: con!.path, who: con!.who },
      {
        path: '/con',
        who: [
          { name: 'bob', doing: 'read-only' },
          { name: 'alice', doing: 'typing' },
        ],
      },
    );
    await until(() => readFileSync(log, 'utf8').includes('--- alice typed "alice-typed\\r" ---'), {
      what: "alice's input in the transcript",
      detail: () => readFileSync(log, 'utf8'),
    });
    assert.match(
      readFileSync(log, 'utf8'),
      /--- tls 127\.0\.0\.1:\d+ \(bob\) connected, read-only[^\n]*---\n[\s\S]*--- tls 127\.0\.0\.1:\d+ \(alice\) connected[^\n]*---\n[\s\S]*--- alice typed "alice-typed\\r" ---\n/,
    );
    assert.doesNotMatch(readFileSync(log, 'utf8'), /bob-typed/, 'a refused keystroke is not input');
    // A certificate not in the file (valid, from the right CA) is refused.
    const carol = await socatClient(port, pki.carol, '');
    assert.equal(carol.stdout.length, 0);
    await until(() => /refused tls 127\.0\.0\.1:\d+: client certificate CN=carol \(sha256 [0-9A-F:]{95}\) is not in \S+users\n/.test(pb.stderr()));
    // Bob is removed: his connection ends, alice's stays.
    writeFileSync(users, 'alice full cert\n');
    const bobGone = once(bob.resume(), 'end');
    pb.proc.kill('SIGHUP');
    await bobGone;
    await pb.logged(/: bob is no longer in \S+users as before \(removed, or another role or certificate\); closing their connection\n/);
    alice.write('still-here\r');
    await vm.waitReceived('still-here\r');
    assert.equal(vm.received().toString(), 'alice-typed\rstill-here\r');
    alice.destroy();
  } finally {
    await pb.stop();
    await vm.quit();
  }
});

test('tls-listen?readonly&max=1 as a hub door: the peer watches and is told it may not type (exact bytes at the device); a second peer is closed before its handshake', async () => {
  const vm = await startFakeVm();
  const pb = await startPtyb(['-v', `pty:${vm.slave}?replay=0`, `tls-listen:0?readonly&max=1&${serverOpts()}`, 'tcp-listen:0'], { listeners: 2 });
  const [tlsAt, tcpAt] = pb.listening;
  try {
    const spy = await tlsClient(tlsAt!.port);
    await pb.logged(/tls 127\.0\.0\.1:\d+ connected, read-only/);
    spy.write('spy-typed\r');
    assert.match(await readUntil(spy, '\r\n'), /\[ptybridge: read-only: you may watch, not type\]\r\n$/);
    // Over ?max: Node closes it before any TLS byte, and says so at -v.
    const second = tls.connect({ host: '127.0.0.1', port: tlsAt!.port, servername: 'localhost', ca: readFileSync(pki.ca) });
    const [err] = await once(second, 'error');
    assert.match(String((err as Error).message), /ECONNRESET|socket disconnected before secure TLS connection was established/);
    await pb.logged(/: refused tls 127\.0\.0\.1:\d+: too many peers \(\?max=1\)\n/);
    // A writer on the other door: the device got its bytes and none of the spy's.
    const writer = await connectTcp(tcpAt!.port);
    writer.write('writer-typed\r');
    await vm.waitReceived('writer-typed\r');
    assert.equal(vm.received().toString(), 'writer-typed\r');
    vm.say('to-everyone\n');
    await readUntil(spy, 'to-everyone');
    spy.destroy();
    writer.destroy();
  } finally {
    await pb.stop();
    await vm.quit();
  }
});

test("pyserial rfc2217:// through socat TCP-LISTEN → OPENSSL: (alice's certificate) to a tls-listen:?telnet serial door sets the baud on the device", async () => {
  const { dev, far, close } = await ptyPair('ptyb-tls-2217-');
  let pb: Running | undefined;
  let tunnel: ReturnType<typeof spawnTracked> | undefined;
  try {
    pb = await startPtyb([`serial:${dev}?baud=9600`, `tls-listen:0?telnet&${serverOpts(`&client-ca=${pki.ca}`)}`]);
    // pyserial speaks plain RFC 2217; socat carries it over TLS with alice's certificate, as a lab's client would.
    const local = await freePort();
    tunnel = spawnTracked('socat', [
      `TCP-LISTEN:${local},bind=127.0.0.1,reuseaddr,fork`,
      `OPENSSL:127.0.0.1:${pb.listening[0]!.port},cafile=${pki.ca},commonname=localhost,cert=${pki.alice.cert},key=${pki.alice.key}`,
    ]);
    await waitForPort(local);
    const farEnd = createReadStream(far);
    farEnd.on('error', () => {}); // EIO once socat closes the pair
    const farGot = readUntil(farEnd, 'hello-device');
    const script = `
import serial
s = serial.serial_for_url('rfc2217://127.0.0.1:${local}?timeout=2', baudrate=57600, timeout=5)
s.write(b'hello-device')
s.close()
`;
    const r = await runTool('/usr/bin/python3', ['-c', script]);
    assert.equal(r.code, 0, r.stderr);
    await farGot;
    farEnd.destroy();
    assert.equal((await runTool('stty', ['-F', dev, 'speed'])).stdout.toString().trim(), '57600');
  } finally {
    tunnel?.kill();
    await pb?.stop();
    close();
  }
});

test('bad input: a tls-listen without cert/key, users without client-ca, cert without key, ca with verify=none: one line, exit 2; --help tls shows a test CA', async () => {
  const cases: [string[], string][] = [
    [['-', 'tls-listen:0'], 'ptybridge: tls-listen:0: a TLS server needs cert=FILE and key=FILE (PEM); --help tls-listen shows how to make test ones\n'],
    [
      ['-', 'ssl-listen:0?cert=a.pem'],
      'ptybridge: ssl-listen:0?cert=a.pem: a TLS server needs cert=FILE and key=FILE (PEM); --help tls-listen shows how to make test ones\n',
    ],
    [
      ['-', 'tls-listen:0?cert=a&key=b&users=u'],
      'ptybridge: tls-listen:0?cert=a&key=b&users=u: option "users" needs client-ca=FILE: the users are told apart by their client certificates\n',
    ],
    [['-', 'tls:h:1?cert=a'], 'ptybridge: tls:h:1?cert=a: cert= and key= go together (a client certificate and its private key)\n'],
    [['-', 'tls:h:1?verify=none&ca=x'], 'ptybridge: tls:h:1?verify=none&ca=x: option "ca" has no effect with verify=none (no certificate is checked)\n'],
    [['-', 'tls:h:1?verify=maybe'], 'ptybridge: tls:h:1?verify=maybe: option "verify" expects peer|none, got "maybe"\n'],
    [['-', 'ws-listen:0?client-ca=c'], 'ptybridge: ws-listen:0?client-ca=c: client-ca= needs cert= and key=: client certificates come with TLS\n'],
    [
      ['-', 'ws-listen:0?cert=a&key=b&client-ca=c&token-file=t'],
      'ptybridge: ws-listen:0?cert=a&key=b&client-ca=c&token-file=t: token-file= has no effect with client-ca=: the client certificate is the credential (view roles: ?users=)\n',
    ],
    [['-', 'tls:h:1?min-version=TLSv1'], 'ptybridge: tls:h:1?min-version=TLSv1: option "min-version" expects TLSv1.2|TLSv1.3, got "TLSv1"\n'],
  ];
  for (const [args, line] of cases) {
    const r = await runPtyb(args);
    assert.equal(r.stderr, line);
    assert.equal(r.code, 2);
  }
  // A file that is missing, or not PEM: exit 1, naming the option and the cause.
  const missing = await runPtyb(['exec:cat', `tls-listen:0?cert=${pki.dir}/none.pem&key=${pki.server.key}`]);
  assert.equal(
    missing.stderr,
    `ptybridge: tls-listen:0?cert=${pki.dir}/none.pem&key=${pki.server.key}: cert=${pki.dir}/none.pem: ENOENT (no such file or directory)\n`,
  );
  assert.equal(missing.code, 1);
  const help = await runPtyb(['--help', 'tls']);
  assert.match(help.stdout.toString(), /openssl req -x509 .* -subj \/CN=lab-ca .*-out ca\.pem\n/);
  assert.match(help.stdout.toString(), /-CA ca\.pem -CAkey ca\.key -keyout alice\.key -out alice\.pem\n/);
});

test('hostile peers: 300 connections that never finish a handshake or send garbage are cut, and a real client still gets in', async () => {
  const pb = await startPtyb(['exec:echo console-banner', `tls-listen:0?${serverOpts(`&client-ca=${pki.ca}&handshake-timeout=1s`)}`]);
  const port = pb.listening[0]!.port;
  try {
    const idle = await Promise.all(
      Array.from({ length: 300 }, async (_, i) => {
        const s = await connectTcp(port);
        s.on('error', () => {});
        if (i % 2) s.write('GET / HTTP/1.0\r\n\r\n'); // not TLS at all
        return s;
      }),
    );
    const alice = await socatClient(port, pki.alice, '');
    assert.equal(alice.stdout.toString(), 'console-banner\r\n', alice.stderr);
    // Each is closed by the server: the garbage at once, the silent ones after ?handshake-timeout.
    await Promise.all(
      idle.map(
        (s) =>
          new Promise((ended) => {
            s.once('end', ended).once('close', ended).resume();
            if (s.readableEnded || s.destroyed) ended(undefined);
          }),
      ),
    );
  } finally {
    await pb.stop();
  }
});

test('ptybridge - tls:…?telnet&cert&key at a terminal (tmux): alice types into a hub behind a tls-listen:?telnet door, ~. leaves, exit 0', async () => {
  const vm = await startFakeVm();
  const pb = await startPtyb(['-v', `pty:${vm.slave}?replay=0`, `tls-listen:0?telnet&${serverOpts(`&client-ca=${pki.ca}`)}`]);
  const t = await inTmux(['-', `'tls:localhost:${pb.listening[0]!.port}?telnet&ca=${pki.ca}&cert=${pki.alice.cert}&key=${pki.alice.key}'`]);
  try {
    await t.waitFor(/~\. disconnects/);
    await until(() => pb.stderr().includes('(alice) connected'));
    await t.tmux('send-keys', '-l', 'typed-over-tls');
    await vm.waitReceived('typed-over-tls');
    vm.say('answer-from-device');
    await t.waitFor(/answer-from-device/);
    await t.tmux('send-keys', 'Enter');
    await t.tmux('send-keys', '-l', '~.');
    await t.waitFor(/EXITED=0/);
    assert.equal(vm.received().toString(), 'typed-over-tls\r');
  } finally {
    await t.close();
    await pb.stop();
    await vm.quit();
  }
});

/** Opens a wss:// socket presenting `who`'s certificate; resolves with it open, or with the HTTP status it was refused with. */
async function wssClient(port: number, who: Pair | undefined): Promise<{ ws?: WebSocket; status?: number }> {
  const ws = new WebSocket(`wss://localhost:${port}/`, {
    ca: readFileSync(pki.ca),
    ...(who ? { cert: readFileSync(who.cert), key: readFileSync(who.key) } : {}),
  });
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve({ ws }));
    ws.once('unexpected-response', (_req, res) => resolve({ status: res.statusCode }));
    ws.once('error', reject);
  });
}

test('ws-listen?cert&key&client-ca: the certificate is the credential (no token); users file roles; no/expired certificate: 403 with the reason; SIGHUP closes a removed user', async () => {
  const vm = await startFakeVm();
  const users = join(pki.dir, 'ws-users');
  writeFileSync(users, `alice full cert\nbob view ${pki.fingerprint(pki.bob.cert)}\n`);
  const pb = await startPtyb(['-v', `pty:${vm.slave}?replay=0`, `ws-listen:0?${serverOpts(`&client-ca=${pki.ca}&users=${users}`)}`]);
  const port = pb.listening[0]!.port;
  try {
    assert.doesNotMatch(pb.stderr(), /token/, 'no token generated or asked for');
    assert.equal((await wssClient(port, undefined)).status, 403);
    assert.equal((await wssClient(port, pki.expired)).status, 403);
    assert.equal((await wssClient(port, pki.carol)).status, 403);
    await pb.logged(/refused 127\.0\.0\.1:\d+ \/: 403 client certificate CN=old refused: CERT_HAS_EXPIRED \(certificate has expired\)\n/);
    await pb.logged(/refused 127\.0\.0\.1:\d+ \/: 403 client certificate CN=carol \(sha256 [0-9A-F:]+\) is not in \S+ws-users\n/);
    const bob = (await wssClient(port, pki.bob)).ws!;
    await until(() => pb.stderr().includes('(bob) connected, read-only'));
    const alice = (await wssClient(port, pki.alice)).ws!;
    await until(() => pb.stderr().includes('(alice) connected'));
    // /api/consoles answers with the role and name the certificate gives.
    for (const [who, want] of [
      [pki.alice, { role: 'full', user: 'alice' }],
      [pki.bob, { role: 'view', user: 'bob' }],
    ] as const) {
      const r = await runTool('/usr/bin/curl', ['-sS', '--cacert', pki.ca, '--cert', who.cert, '--key', who.key, `https://localhost:${port}/api/consoles`]);
      const { role, user } = JSON.parse(r.stdout.toString()) as { role: string; user: string };
      assert.deepEqual({ role, user }, want, r.stderr);
    }
    bob.send(Buffer.from('bob-typed\r'));
    await new Promise((r) => bob.once('message', r)); // the read-only notice: bob's bytes were refused
    alice.send(Buffer.from('alice-typed\r'));
    await vm.waitReceived('alice-typed\r');
    assert.equal(vm.received().toString(), 'alice-typed\r');
    writeFileSync(users, 'alice full cert\n');
    const bobGone = once(bob, 'close');
    pb.proc.kill('SIGHUP');
    assert.equal((await bobGone)[0], 1008);
    alice.close();
  } finally {
    await pb.stop();
    await vm.quit();
  }
});

test('tls:…?share behind tcp-listen: one TLS connection (socat OPENSSL-LISTEN without fork takes one) shared by two peers', async () => {
  const port = await freePort();
  const console_ = spawnTracked('socat', [
    `OPENSSL-LISTEN:${port},bind=127.0.0.1,reuseaddr,cert=${pki.server.cert},key=${pki.server.key},verify=0`,
    'EXEC:cat',
  ]);
  const pb = await startPtyb(['-v', `tls:localhost:${port}?share&ca=${pki.ca}&retry=50&interval=100ms`, 'tcp-listen:0']);
  try {
    const a = await connectTcp(pb.listening[0]!.port);
    const b = await connectTcp(pb.listening[0]!.port);
    await until(() => (pb.stderr().match(/ connected/g) ?? []).length >= 2);
    const atA = readUntil(a, 'from-b');
    const atB = readUntil(b, 'from-b');
    b.write('from-b');
    assert.match(await atA, /from-b/);
    assert.match(await atB, /from-b/);
    await pb.logged(/tls 127\.0\.0\.1:\d+ open, shared/);
    a.destroy();
    b.destroy();
  } finally {
    await pb.stop();
    console_.kill();
  }
});

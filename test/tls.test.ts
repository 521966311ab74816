// tls: and tls-listen: against real peers (socat OPENSSL, openssl s_client, pyserial through a TLS tunnel), with certificates openssl makes here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readFileSync, writeFileSync } from 'node:fs';
import tls from 'node:tls';
import { join } from 'node:path';
import { acceptOne, connectTcp, freePort, readUntil, runPtyb, runTool, spawnTracked, startPtyb, transferBothWays, waitForPort } from './helpers/ptyb.js';
import { startFakeVm, until } from './helpers/devices.js';
import { makePki, type Pair } from './helpers/certs.js';

const pki = makePki();
test.after(() => pki.remove());

const serverOpts = (extra = '') => `cert=${pki.server.cert}&key=${pki.server.key}${extra}`;

/** A Node TLS client (the tests' own peer), resolved once the handshake is done. */
async function tlsClient(port: number, who?: Pair): Promise<tls.TLSSocket> {
  const s = tls.connect({ host: '127.0.0.1', port, servername: 'localhost', ca: readFileSync(pki.ca), ...(who ? { cert: readFileSync(who.cert), key: readFileSync(who.key) } : {}), allowHalfOpen: true } as tls.ConnectionOptions);
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
      [`tls:127.0.0.1:${good.port}?ca=${pki.ca}&servername=console.lab`, `the server's certificate was refused: ERR_TLS_CERT_ALTNAME_INVALID: Hostname/IP does not match certificate's altnames: Host: console.lab. is not in the cert's altnames: DNS:localhost, IP Address:127.0.0.1`],
      [`ssl:localhost:${good.port}?ca=${pki.otherCa}`, `the server's certificate was refused: UNABLE_TO_VERIFY_LEAF_SIGNATURE: unable to verify the first certificate`],
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
    const sClient = await runTool('/usr/bin/openssl', ['s_client', '-quiet', '-connect', `127.0.0.1:${port}`, '-CAfile', pki.ca, '-cert', pki.bob.cert, '-key', pki.bob.key], { input: '' });
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
    const eve = await runTool('/usr/bin/openssl', ['s_client', '-quiet', '-connect', `127.0.0.1:${port}`, '-CAfile', pki.ca, '-cert', pki.mallory.cert, '-key', pki.mallory.key], { input: '' });
    assert.doesNotMatch(eve.stdout.toString(), /console-banner/);
    assert.equal(pb.stderr().match(/ connected\n/g)?.length, 2, `only alice and bob got in:\n${pb.stderr()}`);
  } finally {
    await pb.stop();
  }
});

test('a view certificate watches and cannot type (exact bytes at the device); names in the log; removed from the users file + SIGHUP: closed at once', async () => {
  const vm = await startFakeVm();
  const users = join(pki.dir, 'users');
  writeFileSync(users, ['# by name (any certificate of client-ca for alice), by fingerprint', 'alice full cert', `bob view ${pki.fingerprint(pki.bob.cert)}`, ''].join('\n'));
  const pb = await startPtyb(['-v', `pty:${vm.slave}?replay=0`, `tls-listen:0?${serverOpts(`&client-ca=${pki.ca}&users=${users}`)}`]);
  try {
    const port = pb.listening[0]!.port;
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
    // A certificate not in the file (valid, from the right CA) is refused.
    const carol = await socatClient(port, pki.carol, '');
    assert.equal(carol.stdout.length, 0);
    await until(() => /refused tls 127\.0\.0\.1:\d+: client certificate CN=carol \(sha256 [0-9A-F:]{95}\) is not in \S+users\n/.test(pb.stderr()));
    // Bob is removed: his connection ends, alice's stays.
    writeFileSync(users, 'alice full cert\n');
    const bobGone = once(bob.resume(), 'end');
    pb.proc.kill('SIGHUP');
    await bobGone;
    assert.match(pb.stderr(), /: bob is no longer in \S+users as before \(removed, or another role or certificate\); closing their connection\n/);
    alice.write('still-here\r');
    await vm.waitReceived('still-here\r');
    assert.equal(vm.received().toString(), 'alice-typed\rstill-here\r');
    alice.destroy();
  } finally {
    await pb.stop();
    await vm.quit();
  }
});

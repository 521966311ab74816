// Who: a users file (names, roles, token hashes; reread on SIGHUP) and a trusted proxy's X-Forwarded-User, in logs, the index and the transcript.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runPtyb, startPtyb } from './helpers/ptyb.js';
import { startFakeVm, until } from './helpers/devices.js';
import { openPeer, rawGet } from './helpers/ws.js';

const tmp = mkdtempSync(join(tmpdir(), 'ptyb-users-'));
test.after(() => rmSync(tmp, { recursive: true, force: true }));

const hash = (token: string) => createHash('sha256').update(token).digest('hex');
const ANON = 'shared-token-Rw55';

test('users file: each token names its user and sets the role; the file is followed across SIGHUP; the header ?user-header= names is believed from a trusted proxy only', async () => {
  const users = join(tmp, 'users');
  writeFileSync(users, ['# name role sha256(token)', `alice full ${hash('alice-secret')}`, `bob   view sha256:${hash('bob-secret')}`, ''].join('\n'));
  const log = join(tmp, 'users.log');
  const vm = await startFakeVm();
  const pb = await startPtyb([
    '-v',
    '--log',
    log,
    `pty:${vm.slave}?policy=exclusive`,
    `ws-listen:0/console/vm1?users=${users}&token=${ANON}&trust-proxy=127.0.0.2&user-header=X-Forwarded-User`,
  ]);
  const port = pb.listening[0]!.port;
  const url = (query: string) => `ws://127.0.0.1:${port}/console/vm1${query}`;
  try {
    await assert.rejects(openPeer(url('?token=mallory-secret')), { status: 401 });
    const alice = await openPeer(url('?token=alice-secret'));
    assert.deepEqual(await alice.state(() => true), {
      type: 'keyboard',
      you: 'typing',
      name: 'alice',
      policy: 'exclusive',
      holder: 'alice',
      watching: 0,
      peers: 1,
    });
    const bob = await openPeer(url(''), { headers: { Authorization: 'Bearer bob-secret' } });
    assert.equal((await bob.state(() => true)).you, 'read-only');
    // X-Forwarded-User from an address not in trust-proxy names nobody; from 127.0.0.2 it does.
    const forged = await openPeer(url(`?token=${ANON}`), { headers: { 'X-Forwarded-User': 'mallory' } });
    assert.equal((await forged.state(() => true)).name, undefined);
    const proxied = await openPeer(url(`?token=${ANON}`), { headers: { 'X-Forwarded-User': 'dave' }, localAddress: '127.0.0.2' });
    assert.deepEqual(await proxied.state((s) => s.peers === 4), {
      type: 'keyboard',
      you: 'watching',
      name: 'dave',
      policy: 'exclusive',
      holder: 'alice',
      watching: 3,
      peers: 4,
    });
    await pb.logged(/ws 127\.0\.0\.1:\d+ \(alice\) connected \(1 peer\)/);
    await pb.logged(/ws 127\.0\.0\.1:\d+ \(bob\) connected, read-only \(2 peers\)/);
    assert.doesNotMatch(pb.stderr(), /mallory/);

    // The index lists the console's peers by name and what each is doing.
    const index = await rawGet(port, '/', { Authorization: 'Bearer alice-secret' });
    assert.equal(index.status, 200);
    assert.match(index.body, /4 peers: alice \(typing\), bob \(read-only\), dave \(watching\)</);

    // SIGHUP: a bad file is refused (the users stay) ...
    writeFileSync(users, [`alice full ${hash('alice-secret')}`, `carol admin ${hash('carol-secret')}`, ''].join('\n'));
    pb.proc.kill('SIGHUP');
    await until(() => pb.stderr().includes(`${users}:2: bad role "admin" for carol: expected full (types) or view (watches); keeping the 2 users read before`));
    assert.equal((await rawGet(port, '/', { Authorization: 'Bearer bob-secret' })).status, 200);
    // ... a good one replaces them: alice's token and session are gone, erin's token works.
    writeFileSync(users, `erin full ${hash('erin-secret')}\n`);
    pb.proc.kill('SIGHUP');
    await until(() => pb.stderr().includes(`users file ${users} read again: 1 user`));
    assert.equal((await rawGet(port, '/', { Authorization: 'Bearer alice-secret' })).status, 401);
    // alice's open connection ends too (1008); bob, also gone from the file, likewise.
    await until(() => alice.ws.readyState === alice.ws.CLOSED && bob.ws.readyState === bob.ws.CLOSED);
    await pb.logged(/alice is no longer in \S+ as before \(removed, or another role or token\); closing their connection/);
    const erin = await openPeer(url('?token=erin-secret'));
    assert.equal((await erin.state(() => true)).name, 'erin');
    erin.send({ type: 'take' });
    await proxied.state((s) => s.holder === 'erin');
    for (const p of [forged, proxied, erin]) p.close();
    await until(() => (pb.stderr().match(/ left: /g) ?? []).length === 5, { what: 'the five peers to have left', detail: () => pb.stderr() });
  } finally {
    await pb.stop();
    await vm.quit();
  }
  const transcript = readFileSync(log, 'utf8');
  assert.match(transcript, /--- ws 127\.0\.0\.1:\d+ \(alice\) connected \(1 peer\) ---\n/);
  assert.match(transcript, /--- ws 127\.0\.0\.2:\d+ \(dave\) connected \(4 peers\) ---\n/);
  // alice held the keyboard: when her connection was ended, it went to the earliest peer that may type (bob only watches).
  assert.match(transcript, /--- ws 127\.0\.0\.1:\d+ \(alice\) left ---\n\[\S+\] --- (ws 127\.0\.0\.1:\d+) has the keyboard \(alice left\) ---\n/);
  assert.match(transcript, /--- erin took the keyboard from ws 127\.0\.0\.1:\d+ ---\n/);
  assert.match(transcript, /--- ws 127\.0\.0\.1:\d+ \(bob\) left ---\n/);
});

test('a bad users file is a usage error naming file:line; with a users file no token is generated', async () => {
  const bad = join(tmp, 'bad-users');
  writeFileSync(bad, ['# ok', `alice full ${hash('a')}`, 'bob view abc', ''].join('\n'));
  const r = await runPtyb(['pty:', `ws-listen:0?users=${bad}`]);
  assert.equal(r.code, 2);
  assert.equal(
    r.stderr.split('\n').at(-2),
    `ptybridge: ${bad}:3: bad token hash for bob: expected 64 hex digits (printf %s TOKEN | sha256sum; a certificate's openssl x509 -noout -fingerprint -sha256), or "cert" (a client certificate naming bob)`,
  );
  writeFileSync(bad, `alice full ${hash('a')}\nalice view ${hash('b')}\n`);
  assert.match((await runPtyb(['pty:', `ws-listen:0?users=${bad}`])).stderr, new RegExp(`\nptybridge: ${bad}:2: alice is listed twice\n$`));

  const good = join(tmp, 'good-users');
  writeFileSync(good, `alice full ${hash('a')}\n`);
  const pb = await startPtyb(['pty:', `ws-listen:0?users=${good}`]);
  try {
    const port = pb.listening[0]!.port;
    assert.doesNotMatch(pb.stderr(), /token/);
    // What is behind the page needs a user's token (the page alone is public): the console API here.
    assert.equal((await rawGet(port, '/api/consoles')).status, 401);
    assert.equal((await rawGet(port, '/api/consoles', { Authorization: 'Bearer a' })).status, 200);
  } finally {
    await pb.stop();
  }
});

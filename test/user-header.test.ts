// A trusted proxy names a peer only by the header ?user-header= names: a client's own X-Forwarded-User, passed through, names nobody.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startFakeVm } from './helpers/devices.js';
import { runPtyb, startPtyb } from './helpers/ptyb.js';
import { openPeer, TOKEN } from './helpers/ws.js';

test('trust-proxy alone believes no user header; ?user-header=X-Auth-User believes that one only, from the proxy only', { timeout: 60_000 }, async () => {
  const vm = await startFakeVm();
  const plain = await startPtyb([`pty:${vm.slave}`, `ws-listen:0?token=${TOKEN}&trust-proxy=127.0.0.2`]);
  try {
    const url = `ws://127.0.0.1:${plain.listening[0]!.port}/?token=${TOKEN}`;
    const forged = await openPeer(url, { headers: { 'X-Forwarded-User': 'root-admin' }, localAddress: '127.0.0.2' });
    assert.equal((await forged.state(() => true)).name, undefined, 'X-Forwarded-User is no name without ?user-header=');
    forged.close();
    assert.doesNotMatch(plain.stderr(), /root-admin/);
  } finally {
    await plain.stop();
  }
  const named = await startPtyb([`pty:${vm.slave}`, `ws-listen:0?token=${TOKEN}&trust-proxy=127.0.0.2&user-header=X-Auth-User`]);
  try {
    const url = `ws://127.0.0.1:${named.listening[0]!.port}/?token=${TOKEN}`;
    const viaProxy = await openPeer(url, { headers: { 'X-Auth-User': 'alice', 'X-Forwarded-User': 'root-admin' }, localAddress: '127.0.0.2' });
    assert.equal((await viaProxy.state(() => true)).name, 'alice');
    const direct = await openPeer(url, { headers: { 'X-Auth-User': 'mallory' } });
    assert.equal((await direct.state(() => true)).name, undefined, 'from an address that is not the proxy');
    viaProxy.close();
    direct.close();
  } finally {
    await named.stop();
    await vm.quit();
  }
  const r = await runPtyb(['pty:', `ws-listen:0?token=${TOKEN}&user-header=X-Auth-User`]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /user-header= is believed only from trust-proxy= addresses: give trust-proxy= too\n$/);
});

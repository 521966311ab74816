// ws-listen security and bad input: tokens (loopback too), no cookie, Host (DNS rebinding), Origin, TLS, limits, redaction, close codes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type http from 'node:http';
import https from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { connectTcp, runTool, startPtyb, tcpServer, type Running } from './helpers/ptyb.js';
import { authHeader, closeCodeAfter, openWs, rawGet, rawUpgrade, TOKEN, withToken, wsUrl } from './helpers/ws.js';
import { within } from './helpers/until.js';

test('loopback too: a token is generated and printed once as a URL to open; without it 401, with it (Bearer or ?token=) in', async () => {
  const echo = await tcpServer((s) => s.pipe(s));
  const pb = await startPtyb(['-v', 'ws-listen:0', `tcp:127.0.0.1:${echo.port}`]);
  try {
    const port = pb.listening[0]!.port;
    const m = new RegExp(`open http://127\\.0\\.0\\.1:${port}/#token=(\\S+)$`, 'm').exec(pb.stderr());
    assert.ok(m, pb.stderr());
    const token = m[1]!;
    const url = `ws://127.0.0.1:${port}/`;
    await assert.rejects(openWs(url), { status: 401 });
    await assert.rejects(openWs(url, { headers: { Authorization: 'Bearer wrong' } }), { status: 401 });
    await assert.rejects(openWs(`${url}?token=${token}x`), { status: 401 });
    // The page is public (it asks for the token, or finds it in its tab after a reload); a wrong token in its URL is told.
    assert.equal((await rawGet(port, '/')).status, 200);
    assert.deepEqual(await rawGet(port, `/?token=${token}x`).then((r) => [r.status, r.body]), [401, 'wrong token\n']);
    for (const ws of [await openWs(url, { headers: { Authorization: `Bearer ${token}` } }), await openWs(`${url}?token=${encodeURIComponent(token)}`)]) {
      ws.send(Buffer.from('ping'));
      const [echoed] = await once(ws, 'message');
      assert.equal(String(echoed), 'ping');
      ws.close();
      await once(ws, 'close');
    }
    assert.equal(pb.stderr().split(token).length - 1, 1, 'the token appears once in stderr, at startup only');
  } finally {
    await pb.stop();
    await echo.close();
  }
});

test('no cookie: a page opened with ?token= gets none, and a cookie of the old session form or the token as cookie opens nothing', async () => {
  const echo = await tcpServer((s) => s.pipe(s));
  const a = await startPtyb([withToken('ws-listen:0'), `tcp:127.0.0.1:${echo.port}`]);
  try {
    const pa = a.listening[0]!.port;
    const page = await rawGet(pa, `/?token=${TOKEN}`);
    assert.equal(page.status, 200);
    assert.equal(page.headers['set-cookie'], undefined, 'cookies go to every port of the host: none is set');
    for (const cookie of [`ptybridge_session_${pa}=${TOKEN}`, `token=${TOKEN}`]) {
      await assert.rejects(openWs(`ws://127.0.0.1:${pa}/`, { headers: { Cookie: cookie } }), { status: 401 });
    }
    // The page's own way: the token as a subprotocol beside `ptybridge`, which the server answers.
    const ws = await openWs(`ws://127.0.0.1:${pa}/`, { protocols: ['ptybridge', `ptybridge-token.${Buffer.from(TOKEN).toString('base64url')}`] });
    assert.equal(ws.protocol, 'ptybridge');
    ws.terminate();
    await assert.rejects(openWs(`ws://127.0.0.1:${pa}/`, { protocols: ['ptybridge', `ptybridge-token.${Buffer.from('nope').toString('base64url')}`] }), {
      status: 401,
    });
  } finally {
    await a.stop();
    await echo.close();
  }
});

test('DNS rebinding: a Host other than an IP, localhost or ?allowed-hosts= is refused 403 on HTTP and on the upgrade, token or not', async () => {
  const echo = await tcpServer((s) => s.pipe(s));
  const pb = await startPtyb(['-v', withToken('ws-listen:0?allowed-hosts=console.example:443,.lab.example'), `tcp:127.0.0.1:${echo.port}`]);
  try {
    const port = pb.listening[0]!.port;
    for (const host of ['attacker.example', '127.0.0.1.nip.io', 'localhost.attacker.example', 'example', 'console.example.attacker.example']) {
      const h = `${host}:${port}`;
      assert.equal((await rawGet(port, `/?token=${TOKEN}`, { Host: h })).status, 403, `GET with Host ${h}`);
      assert.equal(await rawUpgrade(port, `/?token=${TOKEN}`, { Host: h, Origin: `http://${h}` }), 403, `upgrade with Host ${h}`);
      assert.equal(await rawUpgrade(port, '/', { Host: h, ...authHeader }), 403, `upgrade with Host ${h}, no Origin`);
    }
    for (const host of ['127.0.0.1', 'localhost', 'LOCALHOST', 'app.localhost', '[::1]', 'console.example', 'a.lab.example', 'lab.example']) {
      const h = `${host}:${port}`;
      assert.equal((await rawGet(port, `/?token=${TOKEN}`, { Host: h })).status, 200, `GET with Host ${h}`);
      assert.equal(await rawUpgrade(port, `/?token=${TOKEN}`, { Host: h, Origin: `http://${h}` }), 101, `upgrade with Host ${h}`);
    }
    await pb.logged(/refused 127\.0\.0\.1:\d+ \/: 403 host not allowed/);
  } finally {
    await pb.stop();
    await echo.close();
  }
});

test('Origin: another site, another scheme (https page, http server) or null → 403; this server, an allowed origin, or no Origin (not a browser) → upgrade', async () => {
  const echo = await tcpServer((s) => s.pipe(s));
  const pb = await startPtyb([withToken('ws-listen:0?origin=https://console.example'), `tcp:127.0.0.1:${echo.port}`]);
  try {
    const port = pb.listening[0]!.port;
    const url = wsUrl(port);
    for (const origin of ['https://evil.example', 'null', `https://127.0.0.1:${port}`, `http://127.0.0.1:${port + 1}`, `http://localhost:${port}`]) {
      await assert.rejects(openWs(url, { origin }), { status: 403 }, origin);
    }
    for (const origin of [`http://127.0.0.1:${port}`, 'https://console.example', undefined]) {
      const ws = await openWs(url, { origin });
      ws.close();
      await once(ws, 'close');
    }
  } finally {
    await pb.stop();
    await echo.close();
  }
});

test('another local user (setpriv --reuid=nobody) cannot reach a shell behind ws-listen on loopback without the token', async (t) => {
  if (process.getuid?.() !== 0) return t.skip('needs root to run a client as nobody');
  const pb = await startPtyb(['exec:sh', 'ws-listen:0']);
  try {
    const port = pb.listening[0]!.port;
    const token = /#token=(\S+)$/m.exec(pb.stderr())![1]!;
    // The client is node itself with an inline script: nothing of this tree needs to be readable by nobody.
    const client =
      `const s=require('net').connect(${port},'127.0.0.1');s.on('data',d=>{process.stdout.write(String(d).split('\\r\\n')[0]+'\\n');s.destroy()});` +
      `s.write('GET /'+(process.argv[1]||'')+' HTTP/1.1\\r\\nHost: 127.0.0.1:${port}\\r\\nUpgrade: websocket\\r\\nConnection: Upgrade\\r\\nSec-WebSocket-Version: 13\\r\\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\\r\\n\\r\\n')`;
    const asNobody = (query: string) => runTool('setpriv', ['--reuid=nobody', '--regid=nogroup', '--clear-groups', process.execPath, '-e', client, query]);
    const without = await asNobody('');
    assert.equal(without.stdout.toString(), 'HTTP/1.1 401 Unauthorized\n', without.stderr);
    const wrong = await asNobody('?token=guess');
    assert.equal(wrong.stdout.toString(), 'HTTP/1.1 401 Unauthorized\n', wrong.stderr);
    const withIt = await asNobody(`?token=${token}`);
    assert.equal(withIt.stdout.toString(), 'HTTP/1.1 101 Switching Protocols\n', 'the token, and only the token, opens it');
  } finally {
    await pb.stop();
  }
});

test('?token=none opts out (with a warning); ?token-file= and $PTYBRIDGE_TOKEN keep the token out of ps', async () => {
  const echo = await tcpServer((s) => s.pipe(s));
  const dir = mkdtempSync(path.join(tmpdir(), 'ptyb-token-'));
  const file = path.join(dir, 'token');
  writeFileSync(file, 'from-the-file-9f2k\n', { mode: 0o600 });
  const running: Running[] = [];
  try {
    const start = async (...args: Parameters<typeof startPtyb>) => (running.push(await startPtyb(...args)), running.at(-1)!);
    const open = await start(['ws-listen:0?token=none', `tcp:127.0.0.1:${echo.port}`]);
    const fromFile = await start([`ws-listen:0?token-file=${file}`, `tcp:127.0.0.1:${echo.port}`]);
    const fromEnv = await start(['ws-listen:0', `tcp:127.0.0.1:${echo.port}`], { env: { ...process.env, PTYBRIDGE_TOKEN: 'from-the-env-3jd8' } });
    await open.logged(/\?token=none: anyone who can reach 127\.0\.0\.1:\d+, every local user included, gets this route without a token/);
    assert.doesNotMatch(open.stderr(), /open http/);
    (await openWs(`ws://127.0.0.1:${open.listening[0]!.port}/`)).terminate();
    for (const [pb, token] of [
      [fromFile, 'from-the-file-9f2k'],
      [fromEnv, 'from-the-env-3jd8'],
    ] as const) {
      const port = pb.listening[0]!.port;
      assert.doesNotMatch(pb.stderr(), /token=|from-the/, 'a chosen token is not printed');
      assert.ok(!readFileSync(`/proc/${pb.proc.pid}/cmdline`, 'latin1').includes(token), 'not in ps');
      await assert.rejects(openWs(`ws://127.0.0.1:${port}/`), { status: 401 });
      (await openWs(`ws://127.0.0.1:${port}/`, { headers: { Authorization: `Bearer ${token}` } })).terminate();
    }
  } finally {
    await Promise.all(running.map((r) => r.stop()));
    await echo.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('TLS: wss/https with cert= and key=, a wss: client trusting the self-signed cert with ca=', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'ptyb-tls-'));
  const up = await tcpServer((s) => s.pipe(s));
  try {
    const cert = path.join(dir, 'cert.pem');
    const key = path.join(dir, 'key.pem');
    const gen = await runTool('openssl', [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      key,
      '-out',
      cert,
      '-days',
      '1',
      '-subj',
      '/CN=localhost',
      '-addext',
      'subjectAltName=IP:127.0.0.1,DNS:localhost',
    ]);
    assert.equal(gen.code, 0, gen.stderr);
    const server = await startPtyb([withToken(`ws-listen:0?cert=${cert}&key=${key}`), `tcp:127.0.0.1:${up.port}`]);
    try {
      assert.equal(server.listening[0]!.scheme, 'wss');
      const port = server.listening[0]!.port;
      const ca = readFileSync(cert);
      const page = await new Promise<http.IncomingMessage>((resolve, reject) =>
        https.get({ host: '127.0.0.1', port, path: `/?token=${TOKEN}`, ca }, (res) => (res.resume(), resolve(res))).on('error', reject),
      );
      assert.equal(page.statusCode, 200);
      // Origin's scheme counts: on an https server, an http:// page of the same host is another origin.
      await assert.rejects(openWs(wsUrl(port, '/', 'wss'), { ca, origin: `http://127.0.0.1:${port}` }), { status: 403 });
      (await openWs(wsUrl(port, '/', 'wss'), { ca, origin: `https://127.0.0.1:${port}` })).terminate();
      await assert.rejects(openWs(wsUrl(port, '/', 'wss')), /self-signed|certificate/i, 'an untrusted cert is refused');
      const client = await startPtyb(['tcp-listen:0', `wss://127.0.0.1:${port}/?ca=${cert}&token=${TOKEN}`]);
      try {
        const a = await connectTcp(client.listening[0]!.port);
        // The far end is an echo: what goes in comes back.
        const payload = Buffer.alloc(300_000, 'x');
        const got: Buffer[] = [];
        let n = 0;
        await new Promise<void>((resolve) => {
          a.on('data', (c: Buffer) => {
            got.push(c);
            if ((n += c.length) >= payload.length) resolve();
          });
          a.write(payload);
        });
        assert.ok(Buffer.concat(got).equals(payload));
        a.destroy();
      } finally {
        await client.stop();
      }
    } finally {
      await server.stop();
    }
  } finally {
    await up.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('?max=1: a second peer is answered 503 while the first is connected', async () => {
  const echo = await tcpServer((s) => s.pipe(s));
  const pb = await startPtyb([withToken('ws-listen:0?max=1'), `tcp:127.0.0.1:${echo.port}`]);
  try {
    const url = wsUrl(pb.listening[0]!.port);
    const first = await openWs(url);
    await assert.rejects(openWs(url), { status: 503 });
    first.close();
    await once(first, 'close');
  } finally {
    await pb.stop();
    await echo.close();
  }
});

test('bad input: malformed control JSON → 1007, unknown control → 1003, oversized frame → 1009, non-base64 → 1007; still serving', async () => {
  const up = await tcpServer((s) => s.pipe(s));
  const pb = await startPtyb([withToken('ws-listen:0?max-frame=4k'), `tcp:127.0.0.1:${up.port}`]);
  try {
    const url = wsUrl(pb.listening[0]!.port);
    const cases: [string[], string | Buffer, number][] = [
      [[], '{"type":"resize","cols":', 1007],
      [[], '{"type":"resize","cols":-1,"rows":2}', 1007],
      [[], '{"type":"launch-missiles"}', 1003],
      [['binary'], Buffer.alloc(8 * 1024), 1009],
      [['base64'], 'this is not base64!', 1007],
    ];
    for (const [protocols, frame, code] of cases) {
      const ws = await openWs(url, { protocols });
      assert.equal(await closeCodeAfter(ws, () => ws.send(frame)), code, `${protocols.join() || 'plain'}: ${String(frame).slice(0, 30)}`);
    }
    // The next client is served as usual.
    const a = await openWs(url, { protocols: ['base64'] });
    a.send(Buffer.from('still here').toString('base64'));
    const [reply] = await once(a, 'message');
    assert.equal(Buffer.from(String(reply), 'base64').toString(), 'still here');
    a.close();
    await pb.logged(/malformed control message \(not JSON\); closing with 1007/);
    await pb.logged(/Max payload size exceeded/);
    await pb.logged(/not base64/);
  } finally {
    await pb.stop();
    await up.close();
  }
});

test('?ping: a peer that stops answering pings is dropped', async () => {
  const up = await tcpServer((s) => s.pipe(s));
  // 1 s, not less: on a loaded machine this test's own event loop may answer a ping late, and
  // a live peer that misses its window is rightly cut too.
  const pb = await startPtyb([withToken('ws-listen:0?ping=1s'), `tcp:127.0.0.1:${up.port}`]);
  try {
    const url = wsUrl(pb.listening[0]!.port);
    const WebSocket = (await import('ws')).default;
    const dead = new WebSocket(url, { autoPong: false });
    await once(dead, 'open');
    const [code] = await once(dead, 'close');
    assert.equal(code, 1006, 'cut off without a close frame');
    // A live peer answers and stays.
    const live = await openWs(url);
    // Three pings answered (ws answers them itself): past the point where the dead one was cut.
    await within(
      (async () => {
        for (let i = 0; i < 3; i++) await once(live, 'ping');
      })(),
      { what: 'three pings at the live peer', timeout: 30_000 },
    );
    live.send(Buffer.from('ok'));
    const [echoed] = await within(
      Promise.race([once(live, 'message'), once(live, 'close').then(([c]) => Promise.reject(new Error(`the live peer was cut (${c})`)))]),
      { what: 'the echo at the live peer', timeout: 30_000 },
    );
    assert.equal(String(echoed), 'ok');
    live.close();
  } finally {
    await pb.stop();
    await up.close();
  }
});

test('the token never reaches the log, even at -vv, under any spelling of its key (%74oken=), on refused pages, upgrades and Hosts', async () => {
  const up = await tcpServer((s) => s.pipe(s));
  const pb = await startPtyb(['-vv', 'ws-listen:0?token=hunter2hunter2', `tcp:127.0.0.1:${up.port}`]);
  try {
    const port = pb.listening[0]!.port;
    await assert.rejects(openWs(`ws://127.0.0.1:${port}/?token=wrongwrong`), { status: 401 });
    await assert.rejects(openWs(`ws://127.0.0.1:${port}/?%74oken=wrong2wrong2`), { status: 401 });
    await assert.rejects(openWs(`ws://127.0.0.1:${port}/?a=1&T%6fKEN=wrong3wrong3`), { status: 401 });
    assert.equal((await rawGet(port, '/?%74oken=wrong4wrong4')).status, 401);
    assert.equal((await rawGet(port, '/x?%74oken=hunter2hunter2', { Host: 'attacker.example' })).status, 403);
    assert.equal(await rawUpgrade(port, '/?%74oken=hunter2hunter2', { Host: 'attacker.example' }), 403);
    // A key spelled another way is still the token (URLs decode keys), and still never logged.
    const ws = await openWs(`ws://127.0.0.1:${port}/?%74oken=hunter2hunter2`);
    ws.close();
    await once(ws, 'close');
    const a = await connectTcp(port);
    a.destroy();
    await pb.logged(/refused 127\.0\.0\.1:\d+ \/: 401 token required/, 'refusals are logged, by path');
    await pb.logged(/refused 127\.0\.0\.1:\d+ \/x: 403 host not allowed/);
    assert.doesNotMatch(pb.stderr(), /hunter2|wrong\d?wrong|%74oken|T%6fKEN/);
  } finally {
    await pb.stop();
    await up.close();
  }
});

test('usage errors name the option and hide the token', { timeout: 30_000 }, async () => {
  const { runPtyb } = await import('./helpers/ptyb.js');
  const res = await runPtyb(['ws-listen:0?token=s3cr3t&ping=soon', 'tcp:127.0.0.1:9']);
  assert.equal(res.code, 2);
  assert.match(res.stderr, /option "ping" expects a duration/);
  assert.doesNotMatch(res.stderr, /s3cr3t/);
  const bad = await runPtyb(['ws-listen:0?cert=/nonexistent.pem&key=/nonexistent.pem', 'tcp:127.0.0.1:9']);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /ENOENT/);
  const client = await runPtyb(['ws:localhost:80', 'tcp-listen:0']);
  assert.equal(client.code, 2);
  assert.match(client.stderr, /expected ws:\/\/host:port\[\/path\]/);
  // ?max-frame=0 would lift the limit (a 400 MiB message held 480 MiB): refused, as is more than 64M.
  for (const v of ['0', '65M']) {
    const r = await runPtyb([`ws-listen:0?max-frame=${v}`, 'tcp:127.0.0.1:9']);
    assert.equal(r.code, 2);
    assert.equal(r.stderr, `ptybridge: ws-listen:0?max-frame=${v}: option "max-frame" expects a size 1-67108864 bytes, such as 4096 or 8k, got "${v}"\n`);
  }
  const both = await runPtyb(['ws-listen:0?token=s3cr3t&token-file=/etc/hostname', 'tcp:127.0.0.1:9']);
  assert.equal(both.code, 2);
  assert.match(both.stderr, /token= and token-file= exclude each other\n$/);
  assert.doesNotMatch(both.stderr, /s3cr3t/);
  const missing = await runPtyb(['ws-listen:0?token-file=/nonexistent/token', 'tcp:127.0.0.1:9']);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /token-file=\/nonexistent\/token: ENOENT/);
  const empty = await runPtyb(['ws-listen:0?token-file=/dev/null', 'tcp:127.0.0.1:9']);
  assert.equal(empty.code, 2);
  assert.match(empty.stderr, /token-file=\/dev\/null is empty: expected the token on its first line\n$/);
  const envNone = await runPtyb(['ws-listen:0', 'tcp:127.0.0.1:9'], { env: { ...process.env, PTYBRIDGE_TOKEN: 'none' } });
  assert.equal(envNone.code, 2);
  assert.match(envNone.stderr, /turns the token off only when written on the address \(\?token=none\)/);
});

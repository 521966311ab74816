// ws-listen security and bad input: tokens, Origin, TLS, limits, path traversal, close codes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { connectTcp, runTool, startPtyb, tcpServer } from './helpers/ptyb.js';
import { closeCodeAfter, openWs, tcpExchange } from './helpers/ws.js';

/** GET with a literal, unnormalised path (fetch would clean up `..`). */
function rawGet(port: number, reqPath: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: reqPath, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode!, body, headers: res.headers }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('not loopback: a token is generated and printed once; missing or wrong token → 401, no upgrade', async () => {
  const echo = await tcpServer((s) => s.pipe(s));
  const pb = await startPtyb(['-v', 'ws-listen:0.0.0.0:0', `tcp:127.0.0.1:${echo.port}`]);
  try {
    const m = /generated one: open \S+\?token=(\S+)/.exec(pb.stderr());
    assert.ok(m, pb.stderr());
    const token = m[1]!;
    const port = pb.listening[0]!.port;
    const url = `ws://127.0.0.1:${port}/`;
    await assert.rejects(openWs(url), { status: 401 });
    await assert.rejects(openWs(url, { headers: { Authorization: 'Bearer wrong' } }), { status: 401 });
    await assert.rejects(openWs(`${url}?token=${token}x`), { status: 401 });
    assert.equal((await rawGet(port, '/')).status, 401, 'the page needs the token too');
    for (const ws of [await openWs(url, { headers: { Authorization: `Bearer ${token}` } }), await openWs(`${url}?token=${encodeURIComponent(token)}`)]) {
      ws.send(Buffer.from('ping'));
      const [echoed] = await once(ws, 'message');
      assert.equal(String(echoed), 'ping');
      ws.close();
      await once(ws, 'close');
    }
    // The page opened with ?token= sets a cookie, and the cookie alone opens the socket.
    const page = await rawGet(port, `/?token=${encodeURIComponent(token)}`);
    assert.equal(page.status, 200);
    const cookie = String(page.headers['set-cookie']).split(';')[0]!;
    assert.match(cookie, new RegExp(`^ptybridge_token_${port}=`));
    assert.match(String(page.headers['set-cookie']), /HttpOnly; SameSite=Strict/);
    const viaCookie = await openWs(url, { headers: { Cookie: `other=1; ${cookie}` } });
    viaCookie.close();
    await once(viaCookie, 'close');
    assert.equal(pb.stderr().split(token).length - 1, 1, 'the token appears once in stderr, at startup only');
  } finally {
    await pb.stop();
    await echo.close();
  }
});

test('Origin: another site → 403; same host, an allowed origin, or no Origin (not a browser) → upgrade', async () => {
  const echo = await tcpServer((s) => s.pipe(s));
  const pb = await startPtyb(['ws-listen:0?origin=https://console.example', `tcp:127.0.0.1:${echo.port}`]);
  try {
    const port = pb.listening[0]!.port;
    const url = `ws://127.0.0.1:${port}/`;
    await assert.rejects(openWs(url, { origin: 'https://evil.example' }), { status: 403 });
    await assert.rejects(openWs(url, { origin: 'null' }), { status: 403 });
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

test('TLS: wss/https with cert= and key=, a wss: client trusting the self-signed cert with ca=', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'ptyb-tls-'));
  const up = await tcpServer((s) => s.pipe(s));
  try {
    const cert = path.join(dir, 'cert.pem');
    const key = path.join(dir, 'key.pem');
    const gen = await runTool('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost']);
    assert.equal(gen.code, 0, gen.stderr);
    const server = await startPtyb([`ws-listen:0?cert=${cert}&key=${key}`, `tcp:127.0.0.1:${up.port}`]);
    try {
      assert.equal(server.listening[0]!.scheme, 'wss');
      const port = server.listening[0]!.port;
      const ca = readFileSync(cert);
      const page = await new Promise<number>((resolve, reject) => https.get({ host: '127.0.0.1', port, path: '/', ca }, (res) => (res.resume(), resolve(res.statusCode!))).on('error', reject));
      assert.equal(page, 200);
      await assert.rejects(openWs(`wss://127.0.0.1:${port}/`), /self-signed|certificate/i, 'an untrusted cert is refused');
      const client = await startPtyb(['tcp-listen:0', `wss://127.0.0.1:${port}/?ca=${cert}`]);
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
  const pb = await startPtyb(['ws-listen:0?max=1', `tcp:127.0.0.1:${echo.port}`]);
  try {
    const url = `ws://127.0.0.1:${pb.listening[0]!.port}/`;
    const first = await openWs(url);
    await assert.rejects(openWs(url), { status: 503 });
    first.close();
    await once(first, 'close');
  } finally {
    await pb.stop();
    await echo.close();
  }
});

test('?static=DIR serves files (websockify --web); .., encoded slashes and symlinks out are refused', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'ptyb-static-'));
  mkdirSync(path.join(dir, 'app'));
  writeFileSync(path.join(dir, 'app', 'vnc.html'), '<p>novnc</p>');
  writeFileSync(path.join(dir, 'app', 'index.html'), 'index');
  symlinkSync('/etc/passwd', path.join(dir, 'app', 'leak'));
  const pb = await startPtyb([`ws-listen:0?static=${path.join(dir, 'app')}&web=off`, 'tcp:127.0.0.1:9']);
  try {
    const port = pb.listening[0]!.port;
    const ok = await rawGet(port, '/vnc.html');
    assert.equal(ok.status, 200);
    assert.equal(ok.body, '<p>novnc</p>');
    assert.match(String(ok.headers['content-type']), /text\/html/);
    assert.equal((await rawGet(port, '/')).body, 'index', 'a directory serves its index.html');
    for (const p of ['/../../etc/passwd', '/..%2f..%2f..%2fetc/passwd', '/%2e%2e/%2e%2e/etc/passwd', '/leak', '/nope.html', '/vnc.html%00.txt']) {
      const res = await rawGet(port, p);
      assert.equal(res.status, 404, p);
      assert.doesNotMatch(res.body, /root:/, p);
    }
  } finally {
    await pb.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('bad input: malformed control JSON → 1007, unknown control → 1003, oversized frame → 1009, non-base64 → 1007; still serving', async () => {
  const up = await tcpServer((s) => s.pipe(s));
  const pb = await startPtyb(['ws-listen:0?max-frame=4k', `tcp:127.0.0.1:${up.port}`]);
  try {
    const url = `ws://127.0.0.1:${pb.listening[0]!.port}/`;
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
    assert.match(pb.stderr(), /malformed control message \(not JSON\); closing with 1007/);
    assert.match(pb.stderr(), /Max payload size exceeded/);
    assert.match(pb.stderr(), /not base64/);
  } finally {
    await pb.stop();
    await up.close();
  }
});

test('?ping: a peer that stops answering pings is dropped', async () => {
  const up = await tcpServer((s) => s.pipe(s));
  const pb = await startPtyb(['ws-listen:0?ping=200ms', `tcp:127.0.0.1:${up.port}`]);
  try {
    const url = `ws://127.0.0.1:${pb.listening[0]!.port}/`;
    const WebSocket = (await import('ws')).default;
    const dead = new WebSocket(url, { autoPong: false });
    await once(dead, 'open');
    const [code] = await once(dead, 'close');
    assert.equal(code, 1006, 'cut off without a close frame');
    // A live peer answers and stays.
    const live = await openWs(url);
    await new Promise((r) => setTimeout(r, 700));
    live.send(Buffer.from('ok'));
    const [echoed] = await once(live, 'message');
    assert.equal(String(echoed), 'ok');
    live.close();
  } finally {
    await pb.stop();
    await up.close();
  }
});

test('the token never reaches the log, even at -vv with peers that present it', async () => {
  const up = await tcpServer((s) => s.pipe(s));
  const pb = await startPtyb(['-vv', 'ws-listen:0?token=hunter2hunter2', `tcp:127.0.0.1:${up.port}`]);
  try {
    const port = pb.listening[0]!.port;
    const url = `ws://127.0.0.1:${port}/?token=hunter2hunter2`;
    await assert.rejects(openWs(`ws://127.0.0.1:${port}/?token=wrongwrong`), { status: 401 });
    const ws = await openWs(url);
    ws.close();
    await once(ws, 'close');
    const a = await connectTcp(port);
    a.destroy();
    assert.doesNotMatch(pb.stderr(), /hunter2|wrongwrong/);
  } finally {
    await pb.stop();
    await up.close();
  }
});

test('usage errors name the option and hide the token', async () => {
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
});

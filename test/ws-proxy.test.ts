// Behind a reverse proxy: X-Forwarded-Host/-Proto are believed from ?trust-proxy= addresses only (Host and Origin checks); direct access is checked as before.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import WebSocket from 'ws';
import { startPtyb } from './helpers/ptyb.js';
import { TOKEN } from './helpers/ws.js';

/** The status of a WebSocket upgrade (101 when it opened), sent from `from` with these headers. */
function upgrade(port: number, from: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/console/vm?token=${TOKEN}`, { headers, localAddress: from, perMessageDeflate: false });
    ws.once('open', () => {
      ws.terminate();
      resolve(101);
    });
    ws.once('unexpected-response', (_req, res) => {
      res.resume();
      ws.terminate();
      resolve(res.statusCode!);
    });
    ws.once('error', reject);
  });
}

function get(port: number, from: string, path: string, headers: Record<string, string>): Promise<http.IncomingMessage> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path, headers, localAddress: from, agent: false }, (res) => {
        res.resume();
        resolve(res);
      })
      .on('error', reject);
  });
}

test("X-Forwarded-Host/-Proto: believed from a trust-proxy address (nginx's Host $host drops the port, TLS ends there), ignored from others; direct access unchanged", async () => {
  const pb = await startPtyb(['exec:cat?share', `ws-listen:0/console/vm?token=${TOKEN}&trust-proxy=127.0.0.2&allowed-hosts=front.example`]);
  const port = pb.listening[0]!.port;
  try {
    // What nginx sends with the usual recipe: Host without the port, the browser's host and scheme forwarded.
    const proxied = { Host: 'front.example', Origin: 'https://front.example:8443', 'X-Forwarded-Host': 'front.example:8443', 'X-Forwarded-Proto': 'https' };
    assert.equal(await upgrade(port, '127.0.0.2', proxied), 101, 'from the trusted proxy');
    assert.equal(await upgrade(port, '127.0.0.1', proxied), 403, 'the same headers from anyone else: the Origin is not this server');
    // From the proxy, the Origin must still be the front door itself: another site is refused.
    assert.equal(await upgrade(port, '127.0.0.2', { ...proxied, Origin: 'https://evil.example' }), 403);
    assert.equal(await upgrade(port, '127.0.0.2', { ...proxied, Origin: 'http://front.example:8443' }), 403, 'scheme is part of the origin');
    // A rebinding name forwarded by the proxy is refused as it would be directly.
    assert.equal(await upgrade(port, '127.0.0.2', { ...proxied, 'X-Forwarded-Host': 'attacker.example:8443', Origin: 'https://attacker.example:8443' }), 403);
    // A forged X-Forwarded-Host cannot turn a direct request's foreign Origin into this server's.
    assert.equal(
      await upgrade(port, '127.0.0.1', {
        Host: `127.0.0.1:${port}`,
        Origin: 'https://front.example:8443',
        'X-Forwarded-Host': 'front.example:8443',
        'X-Forwarded-Proto': 'https',
      }),
      403,
    );
    // Direct access works as before.
    assert.equal(await upgrade(port, '127.0.0.1', { Origin: `http://127.0.0.1:${port}` }), 101);
    // The page through the proxy: served, and no cookie (the page keeps its token in the tab).
    const viaProxy = await get(port, '127.0.0.2', `/console/vm?token=${TOKEN}`, {
      Host: 'front.example',
      'X-Forwarded-Host': 'front.example:8443',
      'X-Forwarded-Proto': 'https',
    });
    assert.equal(viaProxy.statusCode, 200);
    assert.equal(viaProxy.headers['set-cookie'], undefined);
  } finally {
    await pb.stop();
  }
});

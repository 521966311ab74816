// The console API (issue 26) beyond the happy path: bytes sent as base64 reach the device exactly, a Break reaches a telnet device as IAC BRK, and every error answer (400 403 404 405 408 409 413 422 429 503) has the keys docs/console-api.json gives it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type net from 'node:net';
import { join } from 'node:path';
import { ROOT, sha256, startPtyb, tcpServer } from './helpers/ptyb.js';
import { until } from './helpers/until.js';

const FULL = 'errors-full-token';
const VIEW = 'errors-view-token';
const doc = JSON.parse(readFileSync(join(ROOT, 'docs/console-api.json'), 'utf8'));

interface Reply {
  status: number;
  body: Record<string, unknown>;
  headers: Headers;
}

async function call(
  port: number,
  action: string,
  opts: { token?: string; body?: unknown; method?: string; query?: string; name?: string } = {},
): Promise<Reply> {
  const method = opts.method ?? (opts.body === undefined ? 'GET' : 'POST');
  const body = opts.body === undefined ? undefined : typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
  const res = await fetch(`http://127.0.0.1:${port}/api/consoles/${opts.name ?? 'con'}/${action}${opts.query ?? ''}`, {
    method,
    headers: { Authorization: `Bearer ${opts.token ?? FULL}` },
    body,
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown>, headers: res.headers };
}

/** Asserts that `r` is a status the document gives for this call, with the keys (and headers) it documents. */
function documented(r: Reply, action: string, method: string, want: number): void {
  assert.equal(r.status, want, `${method} ${action}: ${JSON.stringify(r.body).slice(0, 300)}`);
  const op = doc.paths[`/api/consoles/{name}/${action}`][method.toLowerCase()];
  const d = op.responses[String(r.status)];
  assert.ok(d, `${method} ${action}: ${r.status} is not in docs/console-api.json`);
  const schema = d.content['application/json'].schema;
  const required: string[] = schema.$ref ? doc.components.schemas[schema.$ref.split('/').pop()].required : schema.required;
  for (const k of required) assert.ok(k in r.body, `${method} ${action} ${r.status}: lacks ${k}: ${JSON.stringify(r.body).slice(0, 300)}`);
  for (const h of Object.keys(d.headers ?? {})) assert.ok(r.headers.get(h), `${method} ${action} ${r.status}: lacks the header ${h}`);
}

/** A tcp device the test is the far end of, shared behind a ws-listen door. */
async function withDevice(query: string, fn: (c: { web: number; device: () => net.Socket; got: () => Buffer }) => Promise<void>): Promise<void> {
  let device: net.Socket | undefined;
  const got: Buffer[] = [];
  const server = await tcpServer((s) => {
    device = s;
    s.on('data', (c: Buffer) => got.push(c));
  });
  const pb = await startPtyb([`tcp:127.0.0.1:${server.port}?share${query}`, `ws-listen:0/con?token=${FULL}&view-token=${VIEW}`]);
  try {
    await until(() => device !== undefined, { what: 'the device to be opened' });
    await fn({ web: pb.listening[0]!.port, device: () => device!, got: () => Buffer.concat(got) });
  } finally {
    await pb.stop();
    await server.close();
  }
}

test('send {base64}: all 256 byte values reach the device exactly; a second caller past ?max-peers gets 503 with Retry-After; no screen kept: 409', async () => {
  await withDevice('&max-peers=1', async ({ web, got }) => {
    const bytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const s = await call(web, 'send', { body: { base64: bytes.toString('base64') } });
    assert.equal(s.status, 200, JSON.stringify(s.body));
    assert.equal(s.body.sent, 256);
    await until(() => got().length >= 256, { what: 'the device to get 256 bytes' });
    assert.equal(sha256(got()), sha256(bytes));
    // The sender holds the console's one place: a waiting caller is one too many.
    documented(await call(web, 'expect', { body: { regex: 'x', timeout: 1000 } }), 'expect', 'POST', 503);
    documented(await call(web, 'wait-quiet', { body: { ms: 100, timeout: 1000 } }), 'wait-quiet', 'POST', 503);
    documented(await call(web, 'screen'), 'screen', 'GET', 409);
  });
});

test('send {keys: ["Break"]} reaches a telnet device as IAC BRK; every other error answer has its documented keys', async () => {
  await withDevice('&telnet&replay=screen', async ({ web, device, got }) => {
    const b = await call(web, 'send', { body: { keys: ['Break'], ms: 100 } });
    assert.equal(b.status, 200, JSON.stringify(b.body));
    assert.deepEqual({ sent: b.body.sent, break: b.body.break }, { sent: 0, break: true });
    // The server never agreed to RFC 2217, so the telnet client sends the plain BREAK command.
    await until(() => got().includes(Buffer.of(0xff, 0xf3)), { what: 'IAC BRK at the device', detail: () => got().toString('hex') });
    documented(await call(web, 'send', { body: { keys: ['Break', 'Enter'] } }), 'send', 'POST', 400);
    documented(await call(web, 'send', { body: { keys: ['Hyper-Q'] } }), 'send', 'POST', 400);
    documented(await call(web, 'send', { body: '[1,2' }), 'send', 'POST', 400);
    documented(await call(web, 'screen', { query: '?format=png' }), 'screen', 'GET', 400);
    documented(await call(web, 'output', { query: '?since=-1' }), 'output', 'GET', 400);
    documented(await call(web, 'expect', { body: { regex: '(' } }), 'expect', 'POST', 400);
    documented(await call(web, 'wait-quiet', { body: { ms: 0 } }), 'wait-quiet', 'POST', 400);
    documented(await call(web, 'send', { token: VIEW, body: { text: 'no' } }), 'send', 'POST', 403);
    for (const [action, method] of [
      ['screen', 'GET'],
      ['output', 'GET'],
      ['send', 'POST'],
      ['expect', 'POST'],
      ['wait-quiet', 'POST'],
    ] as const) {
      documented(await call(web, action, { name: 'nope', method, ...(method === 'POST' ? { body: {} } : {}) }), action, method, 404);
      documented(await call(web, action, { method: method === 'GET' ? 'POST' : 'GET' }), action, method, 405);
      if (method === 'POST') documented(await call(web, action, { body: JSON.stringify({ text: 'x'.repeat(70_000) }) }), action, method, 413);
    }
    const list = await fetch(`http://127.0.0.1:${web}/api/consoles`, { method: 'POST', headers: { Authorization: `Bearer ${FULL}` } });
    assert.equal(list.status, 405);
    assert.ok(doc.paths['/api/consoles'].get.responses['405']);
    assert.ok('error' in ((await list.json()) as object));
    documented(await call(web, 'expect', { token: VIEW, body: { regex: 'never', timeout: 200 } }), 'expect', 'POST', 408);
    // 40 a's then b: (a+)+$ tries 2^40 ways to split them; the worker stops it after 1 s.
    const bait = await call(web, 'output');
    device().write(`${'a'.repeat(40)}b\n`);
    documented(await call(web, 'expect', { body: { regex: '(a+)+$', since: bait.body.next, timeout: 30_000 } }), 'expect', 'POST', 422);
    // 9 waits at once from one caller: one more than it may hold.
    const waits = await Promise.all(
      Array.from({ length: 9 }, (_, i) =>
        i % 2 ? call(web, 'wait-quiet', { body: { ms: 60_000, timeout: 1500 } }) : call(web, 'expect', { body: { regex: 'never', timeout: 1500 } }),
      ),
    );
    const refused = waits.filter((w) => w.status === 429);
    assert.equal(refused.length, 1, waits.map((w) => w.status).join(','));
    const i = waits.indexOf(refused[0]!);
    documented(refused[0]!, i % 2 ? 'wait-quiet' : 'expect', 'POST', 429);
    // The other waits end on their timeout: a silence shorter than `ms` is not quiet.
    for (const w of waits) if (w.status !== 429) assert.equal(w.status, 408);
  });
});

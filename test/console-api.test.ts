// The HTTP console API (issue 26) with curl against a real shared shell: send, expect, output, screen, roles, the transcript, and the OpenAPI document's answers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, runTool, startPtyb } from './helpers/ptyb.js';
import { until } from './helpers/until.js';

const FULL = 'api-full-token';
const VIEW = 'api-view-token';

async function curl(
  port: number,
  path: string,
  opts: { token?: string; body?: unknown; query?: string } = {},
): Promise<{ status: number; body: any; raw: string }> {
  const args = ['-s', '-o', '-', '-w', '\n%{http_code}', `http://127.0.0.1:${port}/api/consoles/sh/${path}${opts.query ?? ''}`];
  if (opts.token) args.push('-H', `Authorization: Bearer ${opts.token}`);
  if (opts.body !== undefined)
    args.push('-H', 'Content-Type: application/json', '--data-binary', typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body));
  const r = await runTool('/usr/bin/curl', args);
  const out = r.stdout.toString('utf8');
  const cut = out.lastIndexOf('\n');
  const raw = out.slice(0, cut);
  let body: any;
  try {
    body = JSON.parse(raw);
  } catch {
    body = undefined;
  }
  return { status: Number(out.slice(cut + 1)), body, raw };
}

async function withShell(fn: (port: number, log: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'ptyb-api-'));
  const log = join(dir, 'transcript.log');
  const p = await startPtyb(['--log', log, 'exec:sh?share&replay=screen&log-input', `ws-listen:0/sh?token=${FULL}&view-token=${VIEW}`]);
  try {
    await fn(p.listening[0]!.port, log);
  } finally {
    await p.stop();
  }
}

test('curl logs in through send and expect; a view token reads but gets 403 on send; the transcript names the API caller', async () => {
  await withShell(async (port, log) => {
    const s = await curl(port, 'send', { token: FULL, body: { text: 'printf \'login: \'; read u; echo "welcome $u"\\n' } });
    assert.equal(s.status, 200, s.raw);
    const login = await curl(port, 'expect', { token: FULL, body: { regex: 'login: $', since: s.body.next, timeout: 10000 } });
    assert.equal(login.status, 200, login.raw);
    const s2 = await curl(port, 'send', { token: FULL, body: { text: 'root', keys: ['Enter'] } });
    const w = await curl(port, 'expect', { token: FULL, body: { regex: 'welcome (\\w+)', since: login.body.next, timeout: 10000 } });
    assert.equal(w.status, 200, w.raw);
    assert.deepEqual(w.body.groups, ['root']);
    assert.ok(w.body.next > s2.body.next);
    const out = await curl(port, 'output', { token: VIEW, query: `?since=${login.body.next}` });
    assert.equal(out.status, 200);
    assert.match(out.body.text, /^root\r\nwelcome root\r\n/);
    const denied = await curl(port, 'send', { token: VIEW, body: { text: 'echo no\\n' } });
    assert.equal(denied.status, 403);
    assert.equal((await curl(port, 'output', {})).status, 401);
    const t = await curl(port, 'expect', { token: VIEW, body: { regex: 'never-printed', timeout: 200 } });
    assert.equal(t.status, 408);
    assert.equal(t.body.gap, false);
    const transcript = readFileSync(log, 'utf8');
    assert.match(transcript, /--- api 127\.0\.0\.1 typed "root\\r" ---/);
    assert.doesNotMatch(transcript, /echo no/);
  });
});

test('hostile input: oversized body, long regex, bad regex, bad key, unknown path, too many waiters', async () => {
  await withShell(async (port) => {
    assert.equal((await curl(port, 'send', { token: FULL, body: JSON.stringify({ text: 'x'.repeat(70_000) }) })).status, 413);
    assert.equal((await curl(port, 'expect', { token: FULL, body: { regex: 'a'.repeat(2000) } })).status, 400);
    assert.equal((await curl(port, 'expect', { token: FULL, body: { regex: '(' } })).status, 400);
    assert.equal((await curl(port, 'expect', { token: FULL, body: { regex: 'x', timeout: 10 ** 9 } })).status, 400);
    assert.equal((await curl(port, 'send', { token: FULL, body: { keys: ['Hyper-Q'] } })).status, 400);
    assert.equal((await curl(port, 'send', { token: FULL, body: '[1,2' })).status, 400);
    const r = await runTool('/usr/bin/curl', [
      '-s',
      '-o',
      '/dev/null',
      '-w',
      '%{http_code}',
      '-H',
      `Authorization: Bearer ${FULL}`,
      `http://127.0.0.1:${port}/api/consoles/nope/output`,
    ]);
    assert.equal(r.stdout.toString(), '404');
    // Eight waiters that stay until the shell prints go-now: started together they need not all
    // be in before the first times out on a loaded machine, so the test waits until a probe is
    // refused (the cap is full) and only then counts the refusals of four more. A probe takes a
    // place for its 1 ms too: a waiter that came in that moment was refused, and asks again.
    const settled: string[] = [];
    const hold = async (): Promise<Awaited<ReturnType<typeof curl>>> => {
      for (;;) {
        const r = await curl(port, 'expect', { token: FULL, body: { regex: 'go-now', timeout: 60_000 } });
        settled.push(`${r.status} ${r.raw.slice(0, 200)}`);
        if (r.status !== 429) return r;
      }
    };
    const held = Array.from({ length: 8 }, hold);
    let probe = '';
    await until(
      async () => {
        const r = await curl(port, 'expect', { token: FULL, body: { regex: 'never', timeout: 1 } });
        probe = `${r.status} ${r.raw.slice(0, 200)}`;
        return r.status === 429;
      },
      { what: 'the eighth waiter, so that a ninth is refused', detail: () => `last probe: ${probe}; waiters answered: ${settled.join(' | ') || 'none'}` },
    );
    const extra = await Promise.all(Array.from({ length: 4 }, () => curl(port, 'expect', { token: FULL, body: { regex: 'never', timeout: 1500 } })));
    assert.deepEqual(
      extra.map((w) => w.status),
      [429, 429, 429, 429],
    );
    await curl(port, 'send', { token: FULL, body: { text: 'echo go""-now\n' } });
    assert.deepEqual(
      (await Promise.all(held)).map((w) => w.status),
      [200, 200, 200, 200, 200, 200, 200, 200],
    );
  });
});

test('the screen: title, alternate screen and footer as text', async () => {
  await withShell(async (port) => {
    const s = await curl(port, 'send', {
      token: FULL,
      body: { text: "clear; printf '\\\\033]0;my-app\\\\007\\\\033[?1049h\\\\033[2J\\\\033[1;1HTITLE-BAR\\\\033[24;1HF1 Help  F10 Quit'; sleep 30\\n" },
    });
    await curl(port, 'expect', { token: FULL, body: { regex: 'F10 Quit', since: s.body.next, timeout: 10000 } });
    const json = await curl(port, 'screen', { token: VIEW });
    assert.equal(json.status, 200, json.raw);
    assert.equal(json.body.title, 'my-app');
    assert.equal(json.body.alternate, true);
    assert.equal(json.body.rows[0], 'TITLE-BAR');
    assert.equal(json.body.rows[23], 'F1 Help  F10 Quit');
    const text = await curl(port, 'screen', { token: VIEW, query: '?format=text' });
    assert.match(text.raw, /^TITLE-BAR\n(\n){22}F1 Help {2}F10 Quit\n$/);
    const ansi = await curl(port, 'screen', { token: VIEW, query: '?format=ansi' });
    assert.match(ansi.raw, /\x1b\[\?1049h.*TITLE-BAR.*F1 Help {2}F10 Quit/s);
    await curl(port, 'send', { token: FULL, body: { keys: ['Ctrl-C'] } });
  });
});

test('expect calls with a cursor see every number of a counter once and in order', async () => {
  const N = 10_000;
  await withShell(async (port) => {
    const s = await curl(port, 'send', { token: FULL, body: { text: `i=0; while [ $i -lt ${N} ]; do echo n$i; i=$((i+1)); done\\n` } });
    let since = s.body.next;
    // The echo of the command line contains "n$i", not a number: the pattern wants digits.
    const seen: number[] = [];
    const base = `http://127.0.0.1:${port}/api/consoles/sh/expect`;
    for (let k = 0; k < N; k++) {
      const res = await fetch(base, {
        method: 'POST',
        headers: { Authorization: `Bearer ${FULL}` },
        body: JSON.stringify({ regex: '\\bn(\\d+)\\r\\n', since, timeout: 10000 }),
      });
      const body = (await res.json()) as { groups: string[]; next: number; gap: boolean };
      assert.equal(res.status, 200);
      assert.equal(body.gap, false);
      seen.push(Number(body.groups[0]));
      since = body.next;
    }
    assert.deepEqual(
      seen,
      Array.from({ length: N }, (_, i) => i),
    );
  });
});

test('every path in docs/console-api.json answers with a documented status and its keys', async () => {
  const doc = JSON.parse(readFileSync(join(ROOT, 'docs/console-api.json'), 'utf8'));
  const bodies: Record<string, unknown> = {
    send: { text: 'echo doc\\n' },
    expect: { regex: 'doc', since: 0, timeout: 5000 },
    'wait-quiet': { ms: 100, timeout: 5000 },
  };
  await withShell(async (port) => {
    for (const [path, ops] of Object.entries(doc.paths) as [string, Record<string, any>][]) {
      for (const [method, op] of Object.entries(ops)) {
        const action = path === '/api/consoles' ? '..' : path.split('/').pop()!;
        const r = await curl(port, action, { token: FULL, ...(method === 'post' ? { body: bodies[action] } : {}) });
        const documented = op.responses[String(r.status)];
        assert.ok(documented, `${method} ${path}: ${r.status} is not documented (${r.raw})`);
        const schema = documented.content['application/json'].schema;
        const required: string[] = schema.required ?? doc.components.schemas.Error.required;
        for (const k of required) assert.ok(k in r.body, `${method} ${path}: answer lacks ${k}: ${r.raw}`);
      }
    }
  });
});

test('users-file tokens: the transcript names the user who sent; a view user gets 403', async () => {
  const { createHash } = await import('node:crypto');
  const dir = mkdtempSync(join(tmpdir(), 'ptyb-apiu-'));
  const sha = (t: string) => createHash('sha256').update(t).digest('hex');
  const users = join(dir, 'users');
  const { writeFileSync } = await import('node:fs');
  writeFileSync(users, `alice full ${sha('alice-token')}\nbob view ${sha('bob-token')}\n`);
  const log = join(dir, 'transcript.log');
  const p = await startPtyb(['--log', log, 'exec:sh?share&log-input', `ws-listen:0/sh?users=${users}`]);
  try {
    const port = p.listening[0]!.port;
    const list = await curl(port, '..', { token: 'bob-token' });
    const { boots, ...listed } = list.body;
    assert.deepEqual(listed, { role: 'view', user: 'bob', consoles: ['sh'] });
    // Each console's last boot (its device's last open), as a time.
    assert.ok(!Number.isNaN(Date.parse(boots.sh)), JSON.stringify(boots));
    const s = await curl(port, 'send', { token: 'alice-token', body: { text: 'echo by-alice\\n' } });
    assert.equal(s.status, 200, s.raw);
    assert.equal(
      (await curl(port, 'expect', { token: 'bob-token', body: { regex: '^by-alice', flags: 'm', since: s.body.next, timeout: 10000 } })).status,
      200,
    );
    assert.equal((await curl(port, 'send', { token: 'bob-token', body: { text: 'echo by-bob\\n' } })).status, 403);
    const transcript = readFileSync(log, 'utf8');
    assert.match(transcript, /--- api 127\.0\.0\.1 \(alice\) connected[\s\S]*--- alice typed "echo by-alice\\n" ---/);
    assert.doesNotMatch(transcript, /by-bob/);
  } finally {
    await p.stop();
  }
});

// The console API's clients (issue 26), as real processes: `ptybridge expect` and `ptybridge mcp` driven by the MCP SDK's own Client over stdio.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { PTYBRIDGE, runPtyb, startPtyb } from './helpers/ptyb.js';

const FULL = 'clients-full-token';
const VIEW = 'clients-view-token';

async function withShell(fn: (port: number, dir: string, log: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'ptyb-apic-'));
  const log = join(dir, 'transcript.log');
  writeFileSync(join(dir, 'full'), `${FULL}\n`);
  writeFileSync(join(dir, 'view'), `${VIEW}\n`);
  const p = await startPtyb(['--log', log, 'exec:sh?share&replay=screen&log-input', `ws-listen:0/sh?token=${FULL}&view-token=${VIEW}`]);
  try {
    await fn(p.listening[0]!.port, dir, log);
  } finally {
    await p.stop();
  }
}

test('ptybridge expect: a login chat exits 0; a pattern that never comes exits 1; a view token cannot send', async () => {
  await withShell(async (port, dir, log) => {
    const url = `http://127.0.0.1:${port}/sh`;
    const ok = await runPtyb(['expect', url, '--token-file', join(dir, 'full'), '--send', "printf 'login: '; read u; echo \"welcome $u\"\\n", '--expect', 'login: $', '--send', 'root\\n', '--expect', 'welcome (\\w+)']);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout.toString(), /login: root\r\nwelcome root$/);
    // Its sends are in the transcript under the caller's name, as a typist's.
    assert.match(readFileSync(log, 'utf8'), /--- api 127\.0\.0\.1 typed "root\\n" ---/);
    const late = await runPtyb(['expect', url, '--timeout', '300', 'never-printed'], { env: { ...process.env, PTYBRIDGE_TOKEN: FULL } });
    assert.equal(late.code, 1);
    assert.match(late.stderr, /no "never-printed" within 300 ms/);
    const view = await runPtyb(['expect', url, '--token-file', join(dir, 'view'), '--send', 'echo from-view\\n', 'from-view']);
    assert.equal(view.code, 1);
    assert.match(view.stderr, /403 read-only/);
    assert.doesNotMatch(readFileSync(log, 'utf8'), /from-view/);
    const bad = await runPtyb(['expect', 'ftp://x/y', 'z'], { env: { ...process.env, PTYBRIDGE_TOKEN: FULL } });
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /ftp:\/\/x\/y: expected http/);
  });
});

async function mcpClient(port: number, token: string): Promise<Client> {
  const transport = new StdioClientTransport({ command: process.execPath, args: [PTYBRIDGE, 'mcp', `http://127.0.0.1:${port}`], env: { ...process.env, PTYBRIDGE_TOKEN: token } as Record<string, string>, stderr: 'pipe' });
  const client = new Client({ name: 'ptybridge-test', version: '1' });
  await client.connect(transport);
  return client;
}

const textOf = (r: unknown) => JSON.parse((r as { content: { text: string }[] }).content[0]!.text) as Record<string, any>;

test('ptybridge mcp: the SDK client lists, sends, expects and reads the screen; a view token has no send tool', async () => {
  await withShell(async (port, _dir, log) => {
    const full = await mcpClient(port, FULL);
    try {
      const tools = (await full.listTools()).tools.map((t) => t.name).sort();
      assert.deepEqual(tools, ['expect', 'list_consoles', 'read_output', 'read_screen', 'send']);
      const { boots, ...listed } = textOf(await full.callTool({ name: 'list_consoles', arguments: {} }));
      assert.deepEqual(listed, { role: 'full', consoles: ['sh'] });
      assert.deepEqual(Object.keys(boots), ['sh']);
      const sent = textOf(await full.callTool({ name: 'send', arguments: { console: 'sh', text: 'echo mcp-$((6*7))', keys: ['Enter'] } }));
      const m = textOf(await full.callTool({ name: 'expect', arguments: { console: 'sh', regex: 'mcp-(\\d+)', since: sent.next, timeout: 10000 } }));
      assert.deepEqual(m.groups, ['42']);
      const out = textOf(await full.callTool({ name: 'read_output', arguments: { console: 'sh', since: sent.next } }));
      assert.match(out.text, /^echo mcp-\$\(\(6\*7\)\)\r\nmcp-42\r\n/);
      const screen = textOf(await full.callTool({ name: 'read_screen', arguments: { console: 'sh' } }));
      assert.ok(screen.rows.includes('mcp-42'), JSON.stringify(screen.rows));
      const late = await full.callTool({ name: 'expect', arguments: { console: 'sh', regex: 'never', timeout: 200 } });
      assert.equal(late.isError, true);
    } finally {
      await full.close();
    }
    const view = await mcpClient(port, VIEW);
    try {
      const tools = (await view.listTools()).tools.map((t) => t.name).sort();
      assert.deepEqual(tools, ['expect', 'list_consoles', 'read_output', 'read_screen']);
      const r = await view.callTool({ name: 'send', arguments: { console: 'sh', text: 'echo from-view\n' } });
      assert.equal(r.isError, true);
    } finally {
      await view.close();
    }
    assert.match(readFileSync(log, 'utf8'), /--- api 127\.0\.0\.1 typed "echo mcp-\$\(\(6\*7\)\)\\r" ---/);
    assert.doesNotMatch(readFileSync(log, 'utf8'), /from-view/);
  });
});

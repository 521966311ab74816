// The console API's clients (issue 26), as real processes: `ptybridge expect`, and `ptybridge mcp` (attached to a URL, or running a --config itself) driven by the MCP SDK's own Client over stdio.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { once } from 'node:events';
import { PTYBRIDGE, runPtyb, spawnTracked, startPtyb } from './helpers/ptyb.js';
import { until } from './helpers/until.js';

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
    const ok = await runPtyb([
      'expect',
      url,
      '--token-file',
      join(dir, 'full'),
      '--send',
      'printf \'login: \'; read u; echo "welcome $u"\\n',
      '--expect',
      'login: $',
      '--send',
      'root\\n',
      '--expect',
      'welcome (\\w+)',
    ]);
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
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [PTYBRIDGE, 'mcp', `http://127.0.0.1:${port}`],
    env: { ...process.env, PTYBRIDGE_TOKEN: token } as Record<string, string>,
    stderr: 'pipe',
  });
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

/** A config whose one console is a shell that writes its pid to `pidFile` (to see it gone at the end). */
function shellConfig(dir: string): { file: string; pidFile: string; log: string } {
  const pidFile = join(dir, 'shell.pid');
  const log = join(dir, 'transcript.log');
  const file = join(dir, 'consoles.yaml');
  writeFileSync(
    file,
    `version: 1\nroutes:\n  - name: board\n    device: 'exec:sh -c "echo $$ > ${pidFile}; exec sh"?share&replay=screen&log-input'\n    doors: ['unix-listen:${join(dir, 'sock')}?mode=0600']\n    options: { log: ${log} }\n`,
  );
  return { file, pidFile, log };
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

async function mcpOnConfig(file: string, ...extra: string[]): Promise<{ client: Client; transport: StdioClientTransport }> {
  const transport = new StdioClientTransport({ command: process.execPath, args: [PTYBRIDGE, 'mcp', '--config', file, ...extra], stderr: 'pipe' });
  const client = new Client({ name: 'ptybridge-test', version: '1' });
  await client.connect(transport);
  return { client, transport };
}

test('ptybridge mcp --config runs the routes itself: the SDK client lists, sends, expects, reads the screen; closing stops the shell', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ptyb-mcpc-'));
  const { file, pidFile, log } = shellConfig(dir);
  const { client, transport } = await mcpOnConfig(file);
  const pid = transport.pid!;
  let shell = 0;
  try {
    assert.deepEqual((await client.listTools()).tools.map((t) => t.name).sort(), ['expect', 'list_consoles', 'read_output', 'read_screen', 'send']);
    // `boots` (each console's last boot, issue 25) may be empty while the device is still opening.
    const { boots, ...listed } = textOf(await client.callTool({ name: 'list_consoles', arguments: {} }));
    assert.deepEqual(listed, { role: 'full', user: 'mcp', consoles: ['board'] });
    assert.equal(typeof boots, 'object');
    shell = Number(await until(() => (existsSync(pidFile) ? readFileSync(pidFile, 'utf8').trim() : ''), { what: 'the shell pid file' }));
    const sent = textOf(await client.callTool({ name: 'send', arguments: { console: 'board', text: 'echo cfg-$((6*7))', keys: ['Enter'] } }));
    const m = textOf(await client.callTool({ name: 'expect', arguments: { console: 'board', regex: 'cfg-(\\d+)', since: sent.next, timeout: 10000 } }));
    assert.deepEqual(m.groups, ['42']);
    const out = textOf(await client.callTool({ name: 'read_output', arguments: { console: 'board', since: sent.next } }));
    assert.match(out.text, /^echo cfg-\$\(\(6\*7\)\)\r\ncfg-42\r\n/);
    const screen = textOf(await client.callTool({ name: 'read_screen', arguments: { console: 'board' } }));
    assert.ok(screen.rows.includes('cfg-42'), JSON.stringify(screen.rows));
    const none = await client.callTool({ name: 'read_screen', arguments: { console: 'nope' } });
    assert.equal(none.isError, true);
  } finally {
    await client.close();
  }
  await until(() => !alive(pid), { what: 'ptybridge mcp to exit' });
  await until(() => shell && !alive(shell), { what: `the shell ${shell} to be gone` });
  // The transcript names the MCP process as the typist.
  assert.match(readFileSync(log, 'utf8'), /--- mcp typed "echo cfg-\$\(\(6\*7\)\)\\r" ---/);
});

test('ptybridge mcp --config --view: no send tool, a send is refused; SIGTERM stops the routes and the shell', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ptyb-mcpv-'));
  const { file, pidFile, log } = shellConfig(dir);
  const { client, transport } = await mcpOnConfig(file, '--view');
  const pid = transport.pid!;
  try {
    assert.deepEqual((await client.listTools()).tools.map((t) => t.name).sort(), ['expect', 'list_consoles', 'read_output', 'read_screen']);
    assert.equal(textOf(await client.callTool({ name: 'list_consoles', arguments: {} })).role, 'view');
    const r = await client.callTool({ name: 'send', arguments: { console: 'board', text: 'echo from-view\n' } });
    assert.equal(r.isError, true);
    const shell = Number(await until(() => (existsSync(pidFile) ? readFileSync(pidFile, 'utf8').trim() : ''), { what: 'the shell pid file' }));
    process.kill(pid, 'SIGTERM');
    await until(() => !alive(pid), { what: 'ptybridge mcp to exit on SIGTERM' });
    await until(() => !alive(shell), { what: `the shell ${shell} to be gone` });
  } finally {
    await client.close();
  }
  assert.doesNotMatch(readFileSync(log, 'utf8'), /from-view/);
});

test('ptybridge mcp --config: stdin closed ends it with status 0 (no signal); a stdio route and a stray address are refused with status 2; --help mcp', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ptyb-mcps-'));
  const { file, pidFile } = shellConfig(dir);
  const p = await startPtyb(['mcp', '--config', file]);
  try {
    const shell = Number(await until(() => (existsSync(pidFile) ? readFileSync(pidFile, 'utf8').trim() : ''), { what: 'the shell pid file' }));
    const stdout: Buffer[] = [];
    p.proc.stdout!.on('data', (b: Buffer) => stdout.push(b));
    p.proc.stdin!.end();
    assert.deepEqual(await p.exited, { code: 0, signal: null });
    assert.equal(Buffer.concat(stdout).length, 0, 'nothing but the protocol on stdout');
    await until(() => !alive(shell), { what: `the shell ${shell} to be gone` });
  } finally {
    await p.stop();
  }
  const stdio = join(dir, 'stdio.yaml');
  writeFileSync(stdio, `version: 1\nroutes:\n  - name: s\n    left: '-'\n    right: 'tcp-listen:127.0.0.1:0'\n`);
  const refused = await runPtyb(['mcp', '--config', stdio]);
  assert.equal(refused.code, 2);
  assert.match(refused.stderr, /route "s" uses stdio/);
  assert.equal(refused.stdout.length, 0);
  const both = await runPtyb(['mcp', '--config', file, 'http://127.0.0.1:1']);
  assert.equal(both.code, 2);
  assert.match(both.stderr, /takes no address/);
  const help = await runPtyb(['--help', 'mcp']);
  assert.equal(help.code, 0);
  assert.match(help.stdout.toString(), /^ptybridge mcp --config FILE \[--view\]/m);
  assert.equal((await runPtyb(['mcp', '--help'])).stdout.toString(), help.stdout.toString());
});

test('ptybridge expect and ptybridge mcp URL end on SIGINT/SIGTERM while a call waits (they held the signal and ran on)', async () => {
  const { createServer } = await import('node:http');
  const silent = createServer(() => {}); // answers nothing: the client waits
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  const port = (silent.address() as { port: number }).port;
  const env = { ...process.env, PTYBRIDGE_TOKEN: FULL };
  try {
    for (const [args, sig] of [
      [['expect', `http://127.0.0.1:${port}/x`, 'never'], 'SIGINT'],
      [['mcp', `http://127.0.0.1:${port}`], 'SIGTERM'],
    ] as const) {
      const child = spawnTracked(process.execPath, [PTYBRIDGE, ...args], { env });
      const exited = once(child, 'exit');
      // Its first call has reached the server: it is waiting for the answer.
      await until(() => new Promise<boolean>((r) => silent.getConnections((_e, n) => r(n > 0))), { what: `${args[0]} to connect` });
      child.kill(sig);
      const [code, signal] = await exited;
      assert.deepEqual({ code, signal }, { code: null, signal: sig }, args[0]);
      silent.closeAllConnections();
    }
  } finally {
    silent.close();
  }
});

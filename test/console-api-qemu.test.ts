// The console API against a real QEMU guest (issue 26): its console driven with curl, the MCP SDK's client over stdio and `ptybridge expect`; read_screen of a full-screen app drawn in the guest.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { PTYBRIDGE, runPtyb, runTool, startPtyb } from './helpers/ptyb.js';
import { guestEvents, guestFiles, PROMPT, startGuest, stopGuest } from './helpers/qemu.js';
import { APP_TITLE, appShellLine, LAST } from './helpers/screen-app.js';

const FULL = 'qemu-api-full';
const VIEW = 'qemu-api-view';

async function curl(port: number, action: string, token: string, body?: unknown): Promise<{ status: number; body: any; raw: string }> {
  const args = ['-s', '-o', '-', '-w', '\n%{http_code}', '-H', `Authorization: Bearer ${token}`, `http://127.0.0.1:${port}/api/consoles/vm/${action}`];
  if (body !== undefined) args.push('-H', 'Content-Type: application/json', '--data-binary', JSON.stringify(body));
  const out = (await runTool('/usr/bin/curl', args)).stdout.toString('latin1');
  const cut = out.lastIndexOf('\n');
  const raw = out.slice(0, cut);
  let parsed: any;
  try {
    parsed = JSON.parse(raw);
  } catch {
    parsed = undefined;
  }
  return { status: Number(out.slice(cut + 1)), body: parsed, raw };
}

const textOf = (r: unknown) => JSON.parse((r as { content: { text: string }[] }).content[0]!.text) as Record<string, any>;

test('a QEMU guest behind ptybridge: a command and its answer through curl, the MCP client and ptybridge expect; read_screen of a full-screen app; a view token cannot send', {
  timeout: 300_000,
}, async (t) => {
  const files = await guestFiles();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ptyb-qemu-api-'));
  const sock = path.join(dir, 'vm.serial0');
  const log = path.join(dir, 'transcript.log');
  // The guest's console socket is waited for: ptybridge starts first, as in qemu-console.test.
  const pb = await startPtyb([
    '--log',
    log,
    `unix:${sock}?share&replay=screen&log-input&retry=2&interval=50ms`,
    `ws-listen:0/vm?token=${FULL}&view-token=${VIEW}`,
  ]);
  let qemu: ChildProcess | undefined;
  let mcp: Client | undefined;
  // The test's signal aborts when it ends too: only a test that timed out says what each side saw.
  let finished = false;
  t.signal.addEventListener('abort', () => finished || console.error(`--- guest:\n${guestEvents.join('\n')}\n--- ptybridge:\n${pb.stderr()}`));
  try {
    const port = pb.listening[0]!.port;
    await pb.logged(/ENOENT \(no such file or directory\); waiting for it/);
    qemu = startGuest(files, `unix:${sock},server=on,wait=off`);
    // The guest has no login prompt: its /init starts a root shell on the console. "Logging
    // in" is waiting for that shell's prompt from the first byte the console said.
    let up: Awaited<ReturnType<typeof curl>> | undefined;
    for (let i = 0; i < 4 && up?.status !== 200; i++)
      up = await curl(port, 'expect', VIEW, { regex: 'guest: up\\r?\\n[^]*guest# ', since: 0, timeout: 60_000 });
    assert.equal(up!.status, 200, up!.raw);

    // 1. curl: send, expect the answer from the cursor before the input, and the exact output.
    const sent = await curl(port, 'send', FULL, { text: 'echo $((6*7))', keys: ['Enter'] });
    assert.equal(sent.status, 200, sent.raw);
    const answer = await curl(port, 'expect', FULL, { regex: `\\r\\n(\\d+)\\r\\n${PROMPT}`, since: sent.body.next, timeout: 30_000 });
    assert.equal(answer.status, 200, answer.raw);
    assert.deepEqual(answer.body.groups, ['42']);
    const out = await curl(port, `output?since=${sent.body.next}`, VIEW);
    // Busybox's shell asks where the cursor is after its prompt (ESC [6n); a page's terminal answers, a program need not.
    const DSR = '(?:\\x1b\\[6n)?';
    assert.match(out.body.text, new RegExp(`^${DSR}echo \\$\\(\\(6\\*7\\)\\)\\r\\n42\\r\\n${PROMPT}${DSR}$`));

    // 2. The MCP server, driven by the SDK's own client over stdio.
    mcp = new Client({ name: 'ptybridge-qemu-test', version: '1' });
    await mcp.connect(
      new StdioClientTransport({
        command: process.execPath,
        args: [PTYBRIDGE, 'mcp', `http://127.0.0.1:${port}`],
        env: { ...process.env, PTYBRIDGE_TOKEN: FULL } as Record<string, string>,
        stderr: 'pipe',
      }),
    );
    const s2 = textOf(await mcp.callTool({ name: 'send', arguments: { console: 'vm', text: 'echo $((7*8))', keys: ['Enter'] } }));
    const m2 = textOf(
      await mcp.callTool({ name: 'expect', arguments: { console: 'vm', regex: `\\r\\n(\\d+)\\r\\n${PROMPT}`, since: s2.next, timeout: 30_000 } }),
    );
    assert.deepEqual(m2.groups, ['56']);
    assert.match(m2.before, new RegExp(`^${DSR}echo \\$\\(\\(7\\*8\\)\\)$`));

    // 3. ptybridge expect, chat style.
    const cli = await runPtyb(
      ['expect', `http://127.0.0.1:${port}/vm`, '--timeout', '30000', '--send', 'echo $((9*9))\\r', '--expect', '\\r\\n81\\r\\n', '--expect', PROMPT],
      { env: { ...process.env, PTYBRIDGE_TOKEN: FULL } },
    );
    assert.equal(cli.code, 0, cli.stderr);
    assert.match(cli.stdout.toString('latin1'), new RegExp(`^${DSR}echo \\$\\(\\(9\\*9\\)\\)\\r\\n81\\r\\n${PROMPT}$`));

    // The late-joiner tests' full-screen app, drawn by the guest's shell: read_screen gives its title and footer as text.
    const s3 = textOf(await mcp.callTool({ name: 'send', arguments: { console: 'vm', text: appShellLine(), keys: ['Enter'] } }));
    const drawn = await mcp.callTool({ name: 'expect', arguments: { console: 'vm', regex: `${LAST}\\x1b\\[12;5H`, since: s3.next, timeout: 60_000 } });
    assert.equal(drawn.isError, undefined, JSON.stringify(drawn).slice(0, 500));
    const screen = textOf(await mcp.callTool({ name: 'read_screen', arguments: { console: 'vm' } }));
    assert.equal(screen.title, APP_TITLE);
    assert.equal(screen.alternate, true);
    assert.match(screen.rows[2], /^ {29}BIOS SETUP TITLE\s*$/);
    assert.match(screen.rows[23], /^F1 Help {2}F10 Save and exit\s*$/);
    assert.match(screen.rows[0], new RegExp(`^ {69}${LAST}\\s*$`));
    const s4 = await curl(port, 'send', FULL, { keys: ['Enter'] });
    assert.equal((await curl(port, 'expect', FULL, { regex: PROMPT, since: s4.body.next, timeout: 30_000 })).status, 200);

    // A view token cannot type, through any of the three.
    const denied = await curl(port, 'send', VIEW, { text: 'echo from-view\\r' });
    assert.equal(denied.status, 403, denied.raw);
    const cliView = await runPtyb(['expect', `http://127.0.0.1:${port}/vm`, '--send', 'echo from-view\\r', 'from-view'], {
      env: { ...process.env, PTYBRIDGE_TOKEN: VIEW },
    });
    assert.equal(cliView.code, 1);
    assert.match(cliView.stderr, /: 403 read-only: this token may watch, not type/);
    await mcp.close();
    mcp = new Client({ name: 'ptybridge-qemu-view', version: '1' });
    await mcp.connect(
      new StdioClientTransport({
        command: process.execPath,
        args: [PTYBRIDGE, 'mcp', `http://127.0.0.1:${port}`],
        env: { ...process.env, PTYBRIDGE_TOKEN: VIEW } as Record<string, string>,
        stderr: 'pipe',
      }),
    );
    assert.ok(!(await mcp.listTools()).tools.some((x) => x.name === 'send'), 'a view token is offered no send');
    assert.equal((await mcp.callTool({ name: 'send', arguments: { console: 'vm', text: 'echo from-view\r' } })).isError, true);

    // Every send is in the transcript under the caller's name; the view token's are not.
    await pb.stop();
    const transcript = fs.readFileSync(log, 'utf8');
    for (const typed of ['echo $((6*7))\\r', 'echo $((7*8))\\r', 'echo $((9*9))\\r'])
      assert.ok(transcript.includes(`--- api 127.0.0.1 typed "${typed}" ---`), `${typed} in the transcript:\n${transcript.slice(-3000)}`);
    assert.doesNotMatch(transcript, /from-view/);
    finished = true;
  } finally {
    await mcp?.close();
    await pb.stop();
    await stopGuest(qemu);
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

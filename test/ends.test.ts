// Ends that must come (issue 13 §1–4, issue 12 §5): the far side's end, a pipe into a pty,
// a command that succeeds, a piped WebSocket client, a command's last output; socat alongside.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ChildProcess } from 'node:child_process';
import { PTYBRIDGE, freePort, readAll, runPtyb, runTool, spawnTracked, startPtyb, tcpServer, waitForPort } from './helpers/ptyb.js';
import { until } from './helpers/until.js';

/** Generous: the linger is 0.5 s; this only turns "never ends" into a failure instead of a hang. */
const ENDS_WITHIN_MS = 15_000;

const tmp = mkdtempSync(join(tmpdir(), 'ptyb-ends-'));
test.after(() => rmSync(tmp, { recursive: true, force: true }));

/** Runs a client whose stdin stays open (a terminal nobody types at); resolves with how it ended. */
async function runHeldOpen(cmd: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const proc: ChildProcess = spawnTracked(cmd, args);
  proc.stdin!.on('error', () => {});
  const out = readAll(proc.stdout!);
  let err = '';
  proc.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  const exited = once(proc, 'exit');
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), ENDS_WITHIN_MS)));
  const first = await Promise.race([exited, late]);
  clearTimeout(timer);
  try {
    assert.notEqual(first, 'timeout', `${args.join(' ')} did not end after the far side did (stdin still open)\n${err}`);
    return { code: proc.exitCode, stdout: (await out).toString('latin1'), stderr: err };
  } finally {
    proc.kill('SIGKILL');
    proc.stdin!.destroy();
  }
}

/** socat SYSTEM:'echo bye' as the far side: it answers and closes, as in the issue. */
async function byeServer(): Promise<{ port: number; stop(): void }> {
  const port = await freePort();
  const socat = spawnTracked('socat', [`TCP-LISTEN:${port},bind=127.0.0.1,reuseaddr,fork`, 'SYSTEM:echo bye']);
  await waitForPort(port);
  return { port, stop: () => socat.kill() };
}

test('the client ends when the far side goes away, with stdin still open (socat does too): tcp, unix, exec', { timeout: 90_000 }, async () => {
  const server = await byeServer();
  const sock = join(tmp, 'bye.sock');
  const unixSrv = spawnTracked('socat', [`UNIX-LISTEN:${sock},fork`, 'SYSTEM:echo bye']);
  try {
    await until(async () => (await runTool('test', ['-S', sock])).code === 0, { timeout: 10_000, step: 50, what: `socat to make its socket ${sock}` });
    const socat = await runHeldOpen('socat', ['-', `TCP:127.0.0.1:${server.port}`]);
    assert.deepEqual([socat.code, socat.stdout], [0, 'bye\n'], 'socat itself');
    for (const far of [`tcp:127.0.0.1:${server.port}`, `unix:${sock}`, "exec:/bin/sh -c 'echo bye'?pipes"]) {
      const r = await runHeldOpen(process.execPath, [PTYBRIDGE, '-', far]);
      assert.deepEqual([r.code, r.stdout], [0, 'bye\n'], far);
      assert.equal(r.stderr, '', far);
    }
    const bash = await runHeldOpen(process.execPath, [PTYBRIDGE, '-', 'exec:bash --norc --noprofile -c "echo bye; exit 0"']);
    assert.deepEqual([bash.code, bash.stdout], [0, 'bye\r\n'], 'exec: on a pty');
  } finally {
    server.stop();
    unixSrv.kill();
  }
});

test('piping into a pty finishes: the pty gets VEOF at the end of input (cat ends by itself, as with socat), bash runs and ends', {
  timeout: 60_000,
}, async () => {
  const viaSocat = await runTool('socat', ['-', 'EXEC:cat,pty'], { input: 'bin\n' });
  assert.deepEqual([viaSocat.code, viaSocat.stdout.toString('latin1')], [0, 'bin\r\nbin\r\n'], 'socat itself');
  const cat = await runPtyb(['-vv', '-', 'exec:cat'], { input: 'bin\n' });
  assert.equal(cat.code, 0);
  assert.equal(cat.stdout.toString('latin1'), viaSocat.stdout.toString('latin1'));
  // The join ended because cat closed the pty after reading the EOF, not by the linger's hangup.
  assert.doesNotMatch(cat.stderr, /silent for \d+ ms; closing/, 'cat read the EOF and exited; it was not hung up');
  // A partial last line: one VEOF hands it over, the next one ends the input.
  const partial = await runPtyb(['-', 'exec:cat'], { input: 'no newline' });
  assert.deepEqual([partial.code, partial.stdout.toString('latin1')], [0, 'no newlineno newline']);
  const bash = await runPtyb(['-', 'exec:bash --norc --noprofile'], { input: 'echo hi-$((6*7))\n' });
  assert.equal(bash.code, 0);
  assert.match(bash.stdout.toString('latin1'), /hi-42\r\n/);
});

test('exec:…?pipes whose command succeeds is a normal end: exit 0, no ERR_STREAM_PREMATURE_CLOSE (a server that reads nothing for a while)', {
  timeout: 60_000,
}, async () => {
  const received: Promise<string>[] = [];
  const server = await tcpServer((s) => {
    s.pause(); // reads nothing for a while
    received.push(
      // The point of the test: a server that reads nothing for 1 s, while the command has already ended.
      sleep(1000).then(() => {
        const all = readAll(s);
        s.resume();
        return all.then((b) => b.toString());
      }),
    );
    s.once('end', () => s.end());
  });
  try {
    for (let run = 0; run < 3; run++) {
      const r = await runPtyb(['-v', 'exec:echo hi?pipes', `tcp:127.0.0.1:${server.port}`]);
      assert.equal(r.code, 0, r.stderr);
      assert.doesNotMatch(r.stderr, /PREMATURE|error/i);
      assert.equal(await received[run], 'hi\n');
    }
  } finally {
    await server.close();
  }
  // With its stdin held open by a pipe (the 15/20 case): the command's end is the end.
  const held = await runHeldOpen(process.execPath, [PTYBRIDGE, 'exec:echo hi?pipes', '-']);
  assert.deepEqual([held.code, held.stdout, held.stderr], [0, 'hi\n', '']);
});

test('a ws client fed from a pipe waits for the answer before it closes (socat -t)', { timeout: 60_000 }, async () => {
  const pb = await startPtyb(['exec:cat?pipes', 'ws-listen:0?token=ends-test']);
  try {
    for (let run = 0; run < 3; run++) {
      const r = await runPtyb(['-', `ws://127.0.0.1:${pb.listening[0]!.port}/?token=ends-test`], { input: `via ws ${run}\n` });
      assert.deepEqual([r.code, r.stdout.toString(), r.stderr], [0, `via ws ${run}\n`, '']);
    }
  } finally {
    await pb.stop();
  }
});

test("exec: a command's last output is never lost, also when the peer reads it late (the pty master is read to EIO)", { timeout: 120_000 }, async () => {
  // Output sizes around what the socket and the pty hold: the command exits while ptybridge
  // still has its tail in the master (not read: the peer is behind), or in the pty's buffer.
  const sizes = [150, 230, 300, 450, 600];
  await Promise.all(
    sizes.map(async (kb) => {
      const sock = join(tmp, `late-${kb}.sock`);
      const pb = await startPtyb(['-v', `exec:/bin/sh -c 'head -c ${kb * 1024} /dev/zero | tr "\\\\0" x; echo; echo final'`, `unix-listen:${sock}`]);
      try {
        const s = net.connect(sock);
        s.pause();
        await once(s, 'connect');
        // Late: after the command has exited, or, when the unread peer holds it back, once it
        // has had 3 s to fill everything it can; then past ptybridge's 1 s wait after an exit.
        const filled = Date.now() + 3000;
        await until(() => /exited with status/.test(pb.stderr()) || Date.now() > filled, { what: 'the command to exit or fill what it can' });
        await sleep(1500); // the point: read late, past ptybridge's 1 s idle wait after an exit (exec.ts AFTER_EXIT_IDLE_MS)
        const all = readAll(s);
        s.resume();
        const got = (await all).toString('latin1');
        assert.equal(got.length, kb * 1024 + 9, `${kb} KiB: ${got.length} bytes arrived; ends ${JSON.stringify(got.slice(-12))}`);
        assert.ok(got.endsWith('x\r\nfinal\r\n'), `${kb} KiB`);
      } finally {
        await pb.stop();
      }
    }),
  );
});

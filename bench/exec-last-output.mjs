// Stress for "a command's last output is never lost" (issue 12 §5): N runs of a command that
// prints and exits, behind a unix listener, ptybridge and socat side by side; half the peers
// read at once, half read late (after the command exited: the master's tail is still unread).
// Usage: node bench/exec-last-output.mjs [RUNS=1000] [AT_ONCE=16] [PTYBRIDGE=dist/ptybridge.mjs]
import net from 'node:net';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

const RUNS = Number(process.argv[2] ?? 1000);
const AT_ONCE = Number(process.argv[3] ?? 16);
const PTYB = process.argv[4] ?? new URL('../dist/ptybridge.mjs', import.meta.url).pathname;
/** Output: 40 KiB, so that a late reader finds the tail in the pty master, then the last line. */
const DEADLINE_MS = 10 * 60_000;
const tmp = mkdtempSync(join(tmpdir(), 'bench-last-'));
const script = join(tmp, 'cmd.sh');
writeFileSync(script, 'head -c 40960 /dev/zero | tr "\\0" x; echo; echo final\n');

const tools = {
  ptybridge: (sock) => [process.execPath, [PTYB, `exec:/bin/sh ${script}`, `unix-listen:${sock}`]],
  socat: (sock) => ['socat', [`UNIX-LISTEN:${sock},fork,backlog=128`, `EXEC:/bin/sh ${script},pty`]],
};

async function run(name) {
  const sock = join(tmp, `${name}.sock`);
  const [cmd, args] = tools[name](sock);
  const proc = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  for (let i = 0; i < 200; i++) {
    try {
      const s = net.connect(sock);
      await once(s, 'connect');
      s.destroy();
      break;
    } catch {
      await sleep(25);
    }
  }
  let lost = 0;
  let next = 0;
  const started = Date.now();
  let refused = 0;
  const one = async (i) => {
    const s = net.connect(sock);
    let failed = false;
    s.on('error', () => (failed = true));
    if (i % 2) {
      s.pause();
      await sleep(1200); // late: the command has exited meanwhile
    }
    const chunks = [];
    s.on('data', (c) => chunks.push(c));
    s.resume();
    await once(s, 'close');
    if (failed && !chunks.length) return void refused++; // the listener's backlog was full: not a run
    const got = Buffer.concat(chunks).toString('latin1');
    if (!/x\r?\nfinal\r?\n$/.test(got) || got.split('x').length - 1 !== 40960) lost++;
  };
  await Promise.all(
    Array.from({ length: AT_ONCE }, async () => {
      while (next < RUNS && Date.now() - started < DEADLINE_MS) await one(next++);
    }),
  );
  proc.kill();
  return { name, runs: next - refused, lost, seconds: (Date.now() - started) / 1000 };
}

try {
  for (const name of ['ptybridge', 'socat']) {
    const r = await run(name);
    console.log(`${r.name.padEnd(10)} runs ${r.runs}  lost last output ${r.lost}  (${r.seconds.toFixed(1)} s)`);
  }
} finally {
  rmSync(tmp, { recursive: true, force: true });
}

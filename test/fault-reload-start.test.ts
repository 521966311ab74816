// SIGHUP while a --config process starts: it survives, and a reload during the start starts no route twice.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import net from 'node:net';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { withConcurrency } from './helpers/load.js';
import { until } from './helpers/until.js';
import type { ChildProcess } from 'node:child_process';
import { register } from 'node:module';
import { PTYBRIDGE, connectTcp, readUntil, spawnTracked, tcpServer } from './helpers/ptyb.js';

// The router reaches the web page's bundled assets; stand them in before loading it in-process.
register(new URL('./helpers/stub-web-assets.mjs', import.meta.url));
const { loadConfig } = await import('../src/config.js');
const { createLogger } = await import('../src/log.js');
const { RouteSet } = await import('../src/router/config-runner.js');

const dir = mkdtempSync(join(tmpdir(), 'ptyb-hup-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const yaml = (routes: { name: string; left: string; right: string }[]) =>
  ['version: 1', 'routes:', ...routes.flatMap((r) => [`  - name: ${r.name}`, `    left: ${r.left}`, `    right: ${r.right}`])].join('\n') + '\n';

const echoServer = () => tcpServer((s) => s.on('data', (d: Buffer) => s.write(d)));

/** `count` ports that were free a moment ago (bound on port 0 together, then released). */
async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: count }, async () => {
      const s = net.createServer();
      s.listen(0, '127.0.0.1');
      await once(s, 'listening');
      return s;
    }),
  );
  const ports = servers.map((s) => (s.address() as net.AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

/** What the process printed on stderr so far, and a wait for a pattern in it that fails if the process exits first. */
function stderrOf(proc: ChildProcess) {
  let text = '';
  const exited = once(proc, 'exit');
  proc.stderr!.setEncoding('utf8').on('data', (t: string) => (text += t));
  return {
    text: () => text,
    async waitFor(re: RegExp): Promise<void> {
      while (!re.test(text)) {
        if (proc.exitCode !== null || proc.signalCode !== null)
          throw new Error(`exited (${proc.exitCode ?? proc.signalCode}) before ${re}:\n${text.slice(-3000)}`);
        await Promise.race([once(proc.stderr!, 'data'), exited]);
      }
    },
  };
}

async function roundTrip(port: number, text: string): Promise<void> {
  const c = await connectTcp(port);
  try {
    c.write(text);
    await readUntil(c, text);
  } finally {
    c.destroy();
  }
}

test('a SIGHUP while a --config process still loads (reading its file) is a reload, not its death', async () => {
  const echo = await echoServer();
  // The config file is a FIFO: the process blocks reading it, in its first steps, until the
  // test writes it; the signal sent then lands before any route exists, whatever the load.
  const file = join(dir, 'one.fifo');
  execFileSync('mkfifo', [file]);
  const text = yaml([{ name: 'only', left: `tcp:127.0.0.1:${echo.port}`, right: 'tcp-listen:0' }]);
  const proc = spawnTracked(process.execPath, [PTYBRIDGE, '--config', file]);
  const err = stderrOf(proc);
  try {
    const reading = await fs.open(file, 'w'); // returns once the process has opened it
    proc.kill('SIGHUP');
    await reading.writeFile(text);
    await reading.close();
    // The reload reads the file again, once the start has read it to its end (a writer that
    // opened the FIFO before that would join the first read: the same routes twice).
    await err.waitFor(/listening on tcp/);
    const again = await fs.open(file, 'w');
    await again.writeFile(text);
    await again.close();
    await err.waitFor(/reloaded .*kept "only"/);
    assert.equal(proc.exitCode, null, `still running after the SIGHUP\n${err.text()}`);
    const port = Number(/listening on tcp 127\.0\.0\.1:(\d+)/.exec(err.text())![1]);
    await roundTrip(port, 'alive after SIGHUP');
  } finally {
    if (proc.exitCode === null) proc.kill('SIGKILL');
    await echo.close();
  }
});

/** Whether process `pid` has a handler for SIGHUP (bit 0 of SigCgt in /proc/PID/status). */
const catchesHup = (pid: number) => {
  const m = /SigCgt:\s*([0-9a-f]+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? (BigInt(`0x${m[1]}`) & 1n) === 1n : false;
};

test('SIGHUPs while 200 routes start: each listens once, none fails with EADDRINUSE, all are kept', { timeout: 120_000 }, async () => {
  const ROUTES = 200;
  const echo = await echoServer();
  const ports = await freePorts(ROUTES);
  const file = join(dir, 'many.yaml');
  writeFileSync(file, yaml(ports.map((p, i) => ({ name: `r${i}`, left: `tcp:127.0.0.1:${echo.port}`, right: `tcp-listen:127.0.0.1:${p}` }))));
  const proc = spawnTracked(process.execPath, [PTYBRIDGE, '--config', file]);
  const err = stderrOf(proc);
  const listening = () => err.text().match(/listening on /g)?.length ?? 0;
  try {
    // Reloads asked for from the moment the process can take them, all through the start, then one once it is up.
    await until(() => proc.exitCode !== null || catchesHup(proc.pid!), { timeout: 60_000, step: 1, what: 'a SIGHUP handler' });
    for (let i = 0; i < 200 && listening() < ROUTES && proc.exitCode === null; i++) {
      proc.kill('SIGHUP');
      await sleep(25); // the point: reloads asked for all through the start, every 25 ms
    }
    proc.kill('SIGHUP');
    await err.waitFor(new RegExp(`reloaded .*kept "r0".*"r${ROUTES - 1}"; stopped none`));
    assert.equal(proc.exitCode, null, `still running\n${err.text().slice(-3000)}`);
    assert.doesNotMatch(err.text(), /EADDRINUSE|failed "|not started/, 'no route started twice or failed');
    assert.equal(listening(), ROUTES, 'each route listened once');
    for (const line of err.text().match(/reloaded [^\n]*/g) ?? []) assert.match(line, /: started none; failed none; kept /);
    await withConcurrency(ROUTES, 20, (i) => roundTrip(ports[i]!, `route ${i}`));
  } finally {
    if (proc.exitCode === null) proc.kill('SIGKILL');
    await echo.close();
  }
});

test('a reload asked for while the routes start waits for the start: no route starts twice (in-process RouteSet, 200 routes)', async () => {
  const ROUTES = 200;
  const echo = await echoServer();
  const ports = await freePorts(ROUTES);
  const file = join(dir, 'inproc.yaml');
  writeFileSync(file, yaml(ports.map((p, i) => ({ name: `r${i}`, left: `tcp:127.0.0.1:${echo.port}`, right: `tcp-listen:127.0.0.1:${p}` }))));
  const lines: string[] = [];
  const set = new RouteSet(
    'error',
    createLogger('error', (l) => lines.push(l)),
  );
  try {
    const starting = set.start(loadConfig(file));
    // The reload comes in the same turn as the start, as a SIGHUP handled right after the handlers went in.
    const summary = await set.reload(loadConfig(file));
    await starting;
    assert.deepEqual({ started: summary.started, failed: summary.failed, stopped: summary.stopped }, { started: [], failed: [], stopped: [] }, lines.join(''));
    assert.equal(summary.kept.length, ROUTES);
    await withConcurrency(ROUTES, 20, (i) => roundTrip(ports[i]!, `route ${i}`));
  } finally {
    await set.stop();
    await echo.close();
  }
});

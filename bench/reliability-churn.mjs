// Churn benchmark: connect/echo/close cycles through ptybridge tcp-listen → tcp and through
// socat TCP-LISTEN,fork → TCP, same run, same echo upstream; connections/s, fds and RSS after.
// Usage: npm run build:js && node bench/reliability-churn.mjs [cycles=5000] [concurrency=50]
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { freePort, fds, rssMiB } from './proc.mjs';

const CYCLES = Number(process.argv[2] ?? 5000);
const CONC = Number(process.argv[3] ?? 50);
const PTYB = fileURLToPath(new URL('../dist/ptybridge.mjs', import.meta.url));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const echo = net.createServer({ allowHalfOpen: true }, (s) => {
  s.on('error', () => {});
  s.pipe(s);
});
echo.listen(0, '127.0.0.1');
await once(echo, 'listening');
const up = echo.address().port;

async function waitPort(port) {
  for (;;) {
    const ok = await new Promise((r) => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.destroy();
        r(true);
      });
      s.on('error', () => r(false));
    });
    if (ok) return;
    await sleep(20);
  }
}
let failures = 0;
async function cycle(port, i) {
  try {
    await cycleOnce(port, i);
  } catch (err) {
    failures++;
    if (failures <= 3) console.error(`cycle ${i}: ${err.message}`);
  }
}
async function cycleOnce(port, i) {
  const s = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
  s.on('error', () => {});
  await once(s, 'connect');
  const msg = `cycle ${i}\n`;
  let got = '';
  s.on('data', (c) => (got += c));
  s.end(msg);
  await once(s, 'close');
  if (got !== msg) throw new Error(`cycle ${i}: got ${JSON.stringify(got)}`);
}
async function run(name, cmd, args, port) {
  failures = 0;
  const p = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  p.stderr.resume();
  await waitPort(port);
  for (let i = 0; i < 100; i++) await cycle(port, i); // warm up
  await sleep(300);
  const before = { fds: fds(p.pid), rss: rssMiB(p.pid) };
  let next = 0;
  const t0 = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: CONC }, async () => {
      while (next < CYCLES) await cycle(port, next++);
    }),
  );
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  await sleep(1000);
  const after = { fds: fds(p.pid), rss: rssMiB(p.pid) };
  p.kill('SIGTERM');
  await once(p, 'exit');
  return { name, rate: CYCLES / secs, secs, before, after, failures };
}

const p1 = await freePort();
const p2 = await freePort();
const results = [
  await run('ptybridge tcp-listen → tcp', process.execPath, [PTYB, `tcp-listen:${p1}`, `tcp:127.0.0.1:${up}`], p1),
  await run('socat TCP-LISTEN,fork → TCP', 'socat', [`TCP-LISTEN:${p2},bind=127.0.0.1,reuseaddr,fork`, `TCP:127.0.0.1:${up}`], p2),
];
echo.close();
console.log(`| forwarder | cycles | connections/s | failed cycles | fds before → after | RSS MiB before → after |`);
console.log(`|---|---|---|---|---|---|`);
for (const r of results)
  console.log(
    `| ${r.name} | ${CYCLES} (${CONC} at once) | ${r.rate.toFixed(0)} | ${r.failures} | ${r.before.fds} → ${r.after.fds} | ${r.before.rss.toFixed(1)} → ${r.after.rss.toFixed(1)} |`,
  );
console.log(`\nratio ptybridge/socat connections/s: ${(results[0].rate / results[1].rate).toFixed(2)}`);
process.exit(0);

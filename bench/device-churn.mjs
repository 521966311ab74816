// Churn on a shared device: connect / type a line / close cycles against a pty behind
// ptybridge's hub (pty: → tcp-listen:) and behind socat TCP-LISTEN,fork → FILE:<slave>
// (socat cannot share a device: each connection's child opens the slave on its own), same
// run, same fake device. Reports cycles/s, failed cycles, bytes the device received, and the
// forwarder's fds and RSS before → after (socat: its forking parent).
// Usage: npm run build:js && node bench/device-churn.mjs [cycles=5000] [concurrency=50]
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { freePort, fds, rssMiB } from './proc.mjs';

const CYCLES = Number(process.argv[2] ?? 5000);
const CONC = Number(process.argv[3] ?? 50);
const PTYB = fileURLToPath(new URL('../dist/ptybridge.mjs', import.meta.url));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A fake VM console: a raw pty whose master counts what it reads; prints the count on stdin EOF. */
const DEVICE = `
import os, select, sys, tty
m, s = os.openpty(); tty.setraw(s)
print(os.ttyname(s), flush=True)
os.write(m, b"login: ")
n = 0
while True:
    r, _, _ = select.select([m, 0], [], [])
    if m in r:
        try: n += len(os.read(m, 65536))
        except OSError: pass
    if 0 in r and not os.read(0, 100): break
print(n, flush=True)
`;

async function startDevice() {
  const p = spawn('/usr/bin/python3', ['-c', DEVICE], { stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  p.stdout.on('data', (c) => (out += c));
  while (!out.includes('\n')) await sleep(10);
  return {
    slave: out.trim(),
    async received() {
      p.stdin.end();
      await once(p, 'exit');
      return Number(out.trim().split('\n').pop());
    },
  };
}

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

const LINE = 'typed by a console user\n';
let failures = 0;
async function cycle(port) {
  try {
    const s = net.connect({ port, host: '127.0.0.1' });
    s.on('error', () => {});
    await once(s, 'connect');
    s.end(LINE); // typed, then gone; the forwarder closes its side
    s.resume();
    await once(s, 'close');
  } catch (err) {
    if (++failures <= 3) console.error(err.message);
  }
}

async function run(name, cmd, argsFor) {
  failures = 0;
  const dev = await startDevice();
  const port = await freePort();
  const p = spawn(cmd, argsFor(dev.slave, port), { stdio: ['ignore', 'ignore', 'pipe'] });
  p.stderr.resume();
  await waitPort(port);
  for (let i = 0; i < 10; i++) await cycle(port); // warm up (socat holds each connection 0.5 s: its -t)
  await sleep(1000);
  const before = { fds: fds(p.pid), rss: rssMiB(p.pid) };
  let next = 0;
  const t0 = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: CONC }, async () => {
      while (next++ < CYCLES) await cycle(port);
    }),
  );
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  await sleep(1500);
  const after = { fds: fds(p.pid), rss: rssMiB(p.pid) };
  p.kill('SIGTERM');
  await once(p, 'exit');
  const received = await dev.received();
  return { name, rate: CYCLES / secs, before, after, failures, received, expected: (CYCLES + 10) * LINE.length };
}

const results = [
  await run('ptybridge pty: hub ← tcp-listen (shared)', process.execPath, (slave, port) => [PTYB, `pty:${slave}`, `tcp-listen:${port}`]),
  await run('socat TCP-LISTEN,fork → FILE:slave (one open per peer)', 'socat', (slave, port) => [
    `TCP-LISTEN:${port},bind=127.0.0.1,reuseaddr,fork`,
    `FILE:${slave},raw,echo=0`,
  ]),
];
console.log(`| forwarder | cycles | cycles/s | failed | device got / typed bytes | fds before → after | RSS MiB before → after |`);
console.log(`|---|---|---|---|---|---|---|`);
for (const r of results) {
  console.log(
    `| ${r.name} | ${CYCLES} (${CONC} at once) | ${r.rate.toFixed(0)} | ${r.failures} | ${r.received} / ${r.expected} | ${r.before.fds} → ${r.after.fds} | ${r.before.rss.toFixed(1)} → ${r.after.rss.toFixed(1)} |`,
  );
}
console.log(`\nratio ptybridge/socat cycles/s: ${(results[0].rate / results[1].rate).toFixed(2)}x`);

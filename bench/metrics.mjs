// What --metrics costs: idle CPU and RSS of N consoles with and without it, and one scrape's time and size (prom-client) at N consoles; medians of 3 interleaved rounds.
//   node bench/metrics.mjs [N ...]      (default: 100 1000)
// Consoles are `unix:SOCK?share` routes on one ws-listen port (one shared connection each to a
// unix server in this script): a device per console without a child process per console.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, rssMiB, treeCpu } from './proc.mjs';

const PTYBRIDGE = new URL('../dist/ptybridge.mjs', import.meta.url).pathname;
const IDLE_S = 10;
const sizes = process.argv.slice(2).map(Number);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function run(n, metrics) {
  const dir = mkdtempSync(join(tmpdir(), 'ptyb-bench-metrics-'));
  const sock = join(dir, 'dev.sock');
  const conns = new Set();
  const server = net.createServer((c) => conns.add(c.on('error', () => {})));
  await new Promise((r) => server.listen(sock, r));
  const port = await freePort();
  const file = join(dir, 'c.yaml');
  const routes = Array.from({ length: n }, (_, i) => `  - { name: c${i}, left: "unix:${sock}?share", right: "ws-listen:${port}/console/c${i}?token=t" }\n`);
  writeFileSync(file, `version: 1\nroutes:\n${routes.join('')}`);
  const mport = await freePort();
  const args = [PTYBRIDGE, '-q', '--config', file, ...(metrics ? ['--metrics', String(mport)] : [])];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'inherit'] });
  try {
    while (conns.size < n) await sleep(100);
    await sleep(3000); // settle: start-up garbage collected
    const cpu0 = treeCpu(child.pid);
    await sleep(IDLE_S * 1000);
    const idle = (treeCpu(child.pid) - cpu0) / IDLE_S;
    const rss = rssMiB(child.pid);
    let scrape;
    if (metrics) {
      const times = [];
      let bytes = 0;
      const c1 = treeCpu(child.pid);
      for (let i = 0; i < 10; i++) {
        const t = performance.now();
        bytes = (await (await fetch(`http://127.0.0.1:${mport}/metrics`)).text()).length;
        times.push(performance.now() - t);
      }
      const cpuPerScrape = ((treeCpu(child.pid) - c1) / 10) * 1000;
      times.sort((a, b) => a - b);
      scrape = { ms: times[5], cpuMs: cpuPerScrape, kib: bytes / 1024 };
    }
    return { idle, rss, scrape };
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    conns.forEach((c) => c.destroy());
    server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

console.log('| consoles | --metrics | idle CPU (% of a core) | RSS MiB | scrape: median ms | CPU ms per scrape | size KiB |');
console.log('|---|---|---|---|---|---|---|');
const ROUNDS = 3;
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
for (const n of sizes.length ? sizes : [100, 1000]) {
  // Rounds interleaved (without, with, without, …): the machine's other load hits both alike.
  const got = { false: [], true: [] };
  for (let i = 0; i < ROUNDS; i++) for (const metrics of [false, true]) got[metrics].push(await run(n, metrics));
  for (const metrics of [false, true]) {
    const rs = got[metrics];
    const s = metrics ? { ms: median(rs.map((r) => r.scrape.ms)), cpuMs: median(rs.map((r) => r.scrape.cpuMs)), kib: rs[0].scrape.kib } : undefined;
    console.log(
      `| ${n} | ${metrics ? 'yes' : 'no'} | ${(median(rs.map((r) => r.idle)) * 100).toFixed(2)} | ${median(rs.map((r) => r.rss)).toFixed(0)} | ${s ? s.ms.toFixed(1) : '—'} | ${s ? s.cpuMs.toFixed(1) : '—'} | ${s ? s.kib.toFixed(0) : '—'} |`,
    );
  }
}

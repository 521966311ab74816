// Benchmarks for device endpoints (not tests): tiny-chunk pty output, ptybridge vs socat in
// the same run, and one pty fanned out to 100 peers. Run: npm run build:js && node bench/devices.mjs
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { lineReader } from './proc.mjs';

const PTYB = fileURLToPath(new URL('../dist/ptybridge.mjs', import.meta.url));
const WRITER = fileURLToPath(new URL('./pty-writer.py', import.meta.url));
const TINY_TOTAL = Number(process.env.TINY_MB ?? 8) * 1e6;
const FAN_PEERS = Number(process.env.PEERS ?? 100);
const FAN_RATE = 10e6;
const FAN_SECS = Number(process.env.FAN_SECS ?? 8);
const TICK = 100; // USER_HZ on Linux

const cpuOf = (pid) => {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) / TICK; // utime + stime, seconds
};
const rssOf = (pid) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) * 1024;

async function startWriter(args) {
  const w = spawn('/usr/bin/python3', [WRITER, ...args], { stdio: ['pipe', 'pipe', 'inherit'] });
  const line = lineReader(w.stdout);
  return { w, slave: await line(), line };
}

/** A TCP sink that counts bytes and resolves once `total` have arrived. */
async function sink(total) {
  let got = 0;
  let done;
  const finished = new Promise((r) => (done = r));
  const server = net.createServer((s) =>
    s.on('data', (c) => {
      got += c.length;
      if (got >= total) done();
    }),
  );
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: server.address().port,
    finished,
    close: () => {
      server.close();
    },
  };
}

async function tinyRun(name, readerArgs) {
  const wr = await startWriter(['tiny', String(TINY_TOTAL)]);
  const sk = await sink(TINY_TOTAL);
  const reader = spawn(
    readerArgs[0],
    readerArgs.slice(1).map((a) => a.replace('SLAVE', wr.slave).replace('PORT', String(sk.port))),
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  reader.stderr.resume();
  await new Promise((r) => setTimeout(r, 500)); // let it open the pty and connect
  const cpu0 = cpuOf(reader.pid);
  const t0 = Date.now();
  wr.w.stdin.write('go\n');
  await sk.finished;
  const secs = (Date.now() - t0) / 1000;
  const cpu = cpuOf(reader.pid) - cpu0;
  reader.kill('SIGTERM');
  wr.w.kill();
  sk.close();
  const per100 = (cpu * 100e6) / TINY_TOTAL;
  console.log(
    `${name.padEnd(10)} ${(TINY_TOTAL / 1e6).toFixed(0)} MB in 1-5 byte writes: ${secs.toFixed(1)} s, reader CPU ${cpu.toFixed(2)} s = ${per100.toFixed(2)} CPU s per 100 MB`,
  );
  return per100;
}

async function fanOut() {
  const wr = await startWriter(['paced', String(FAN_RATE), String(FAN_SECS)]);
  const pb = spawn(process.execPath, [PTYB, `pty:${wr.slave}?replay=0`, 'tcp-listen:0'], { stdio: ['ignore', 'ignore', 'pipe'] });
  pb.stderr.setEncoding('utf8');
  let err = '';
  const port = await new Promise((resolve) =>
    pb.stderr.on('data', (t) => {
      err += t;
      const m = /listening on tcp [\d.]+:(\d+)/.exec(err);
      if (m) resolve(Number(m[1]));
    }),
  );
  const counts = new Array(FAN_PEERS).fill(0);
  const socks = [];
  for (let i = 0; i < FAN_PEERS; i++) {
    const s = net.connect(port, '127.0.0.1');
    s.on('data', (c) => (counts[i] += c.length));
    socks.push(s);
    await once(s, 'connect');
  }
  await new Promise((r) => setTimeout(r, 300));
  let maxRss = 0;
  const sampler = setInterval(() => (maxRss = Math.max(maxRss, rssOf(pb.pid))), 100);
  const cpu0 = cpuOf(pb.pid);
  const t0 = Date.now();
  wr.w.stdin.write('go\n');
  await wr.line(); // done
  await new Promise((r) => setTimeout(r, 500));
  const secs = (Date.now() - t0) / 1000;
  clearInterval(sampler);
  const cpu = cpuOf(pb.pid) - cpu0;
  const rates = counts.map((n) => n / secs / 1e6).sort((a, b) => a - b);
  const dropped = (err.match(/dropped/g) ?? []).length;
  console.log(
    `fan-out: 1 pty at ${FAN_RATE / 1e6} MB/s for ${FAN_SECS} s to ${FAN_PEERS} peers: ptybridge RSS max ${(maxRss / 1048576).toFixed(0)} MiB, CPU ${cpu.toFixed(1)} s; per-peer rate min ${rates[0].toFixed(2)} / median ${rates[rates.length >> 1].toFixed(2)} / max ${rates.at(-1).toFixed(2)} MB/s; ${dropped} peers dropped`,
  );
  socks.forEach((s) => s.destroy());
  pb.kill('SIGTERM');
  wr.w.kill();
}

const rounds = Number(process.env.ROUNDS ?? 2);
const p = [],
  s = [];
for (let i = 0; i < rounds; i++) {
  p.push(await tinyRun('ptybridge', [process.execPath, PTYB, '-q', 'pty:SLAVE', 'tcp:127.0.0.1:PORT']));
  s.push(await tinyRun('socat', ['socat', '-u', 'OPEN:SLAVE,rawer', 'TCP:127.0.0.1:PORT']));
}
const med = (a) => [...a].sort((x, y) => x - y)[a.length >> 1];
console.log(`tiny chunks: ptybridge/socat CPU ratio ${(med(p) / med(s)).toFixed(2)} (goal <= 1.5)`);
await fanOut();

#!/usr/bin/env node
// Benchmark (not a test): TLS termination, tls-listen: → tcp: against socat OPENSSL-LISTEN → TCP, same cipher, same run.
//   A TLS client (this process, TLS_AES_128_GCM_SHA256 only) sends N MiB through the forwarder to
//   a TCP sink; MB/s at the sink and the forwarder's CPU seconds per GiB, rounds interleaved.
// Usage: npm run build:js && node bench/tls.mjs [--mib 512] [--rounds 2]
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { parseArgs } from 'node:util';
import { treeCpu } from './proc.mjs';
import { startForwarder as startTlsOrSocat } from './lib/forwarder.mjs';

const CIPHER = 'TLS_AES_128_GCM_SHA256';
const { values: args } = parseArgs({ options: { mib: { type: 'string', default: '512' }, rounds: { type: 'string', default: '2' } } });
const TOTAL = Number(args.mib) * 1024 * 1024;
const ROUNDS = Number(args.rounds);

const dir = mkdtempSync(join(os.tmpdir(), 'ptyb-bench-tls-'));
execFileSync(
  '/usr/bin/openssl',
  [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-days',
    '1',
    '-subj',
    '/CN=localhost',
    '-keyout',
    'k.pem',
    '-out',
    'c.pem',
  ],
  { cwd: dir, stdio: 'ignore' },
);
const cert = join(dir, 'c.pem');
const key = join(dir, 'k.pem');

/** A TCP sink that counts bytes; `done(n)` resolves once n bytes arrived. */
async function sink() {
  let got = 0;
  let want = Infinity;
  let finish;
  const server = net.createServer((s) =>
    s.on('data', (b) => {
      got += b.length;
      if (got >= want) finish();
    }),
  );
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: server.address().port,
    done: (n) =>
      new Promise((r) => {
        got = 0;
        want = n;
        finish = r;
      }),
    close: () =>
      new Promise((r) => {
        server.close(r);
        server.closeAllConnections?.();
      }),
  };
}

const startForwarder = (kind, target) =>
  startTlsOrSocat(kind, {
    ptybridge: [`tls-listen:0?cert=${cert}&key=${key}`, `tcp:127.0.0.1:${target}`],
    listening: 'tls',
    socat: (port) => [`OPENSSL-LISTEN:${port},bind=127.0.0.1,reuseaddr,cert=${cert},key=${key},verify=0`, `TCP:127.0.0.1:${target}`],
  });

async function round(kind) {
  const s = await sink();
  const f = await startForwarder(kind, s.port);
  const client = tls.connect({ host: '127.0.0.1', port: f.port, rejectUnauthorized: false, ciphers: CIPHER, minVersion: 'TLSv1.3' });
  await once(client, 'secureConnect');
  const cipher = client.getCipher().standardName;
  if (cipher !== CIPHER) throw new Error(`${kind}: negotiated ${cipher}`);
  const chunk = Buffer.alloc(64 * 1024, 0x5a);
  const arrived = s.done(TOTAL);
  const cpu0 = treeCpu(f.pid);
  const t0 = process.hrtime.bigint();
  for (let sent = 0; sent < TOTAL; sent += chunk.length) if (!client.write(chunk)) await once(client, 'drain');
  await arrived;
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = treeCpu(f.pid) - cpu0;
  client.destroy();
  await f.stop();
  await s.close();
  return { mbs: TOTAL / 1e6 / secs, cpuPerGiB: (cpu * 1024 ** 3) / TOTAL };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const results = { ptybridge: [], socat: [] };
try {
  for (let r = 0; r < ROUNDS; r++) for (const kind of r % 2 ? ['socat', 'ptybridge'] : ['ptybridge', 'socat']) results[kind].push(await round(kind));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
const p = { mbs: median(results.ptybridge.map((x) => x.mbs)), cpu: median(results.ptybridge.map((x) => x.cpuPerGiB)) };
const s = { mbs: median(results.socat.map((x) => x.mbs)), cpu: median(results.socat.map((x) => x.cpuPerGiB)) };
console.log(
  `tls-listen → tcp, ${args.mib} MiB × ${ROUNDS} rounds, ${CIPHER}, load: ${os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}`,
);
console.log(`ptybridge ${p.mbs.toFixed(0)} MB/s, ${p.cpu.toFixed(2)} CPU s/GiB (rounds: ${results.ptybridge.map((x) => x.mbs.toFixed(0)).join(', ')})`);
console.log(`socat     ${s.mbs.toFixed(0)} MB/s, ${s.cpu.toFixed(2)} CPU s/GiB (rounds: ${results.socat.map((x) => x.mbs.toFixed(0)).join(', ')})`);
console.log(`ratio: ${(p.mbs / s.mbs).toFixed(2)}× throughput, ${(p.cpu / s.cpu).toFixed(2)}× CPU per GiB`);

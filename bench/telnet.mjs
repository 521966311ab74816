#!/usr/bin/env node
// Benchmark (not a test): throughput of tcp-listen:?telnet against plain tcp-listen and socat, in the same run.
//   up:   client → forwarder → sink (the telnet server unescapes IAC IAC)
//   down: source → forwarder → client (the telnet server escapes 0xFF; random data has one per 256 bytes)
// Usage: npm run build:js && node bench/telnet.mjs [--mib 256] [--rounds 3]
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { freePort } from './proc.mjs';

const PTYBRIDGE = fileURLToPath(new URL('../dist/ptybridge.mjs', import.meta.url));
const { values: args } = parseArgs({ options: { mib: { type: 'string', default: '256' }, rounds: { type: 'string', default: '3' } } });
const SIZE = Number(args.mib) * 1024 * 1024;
const ROUNDS = Number(args.rounds);
const CHUNK = randomBytes(64 * 1024);
const IAC = 255;
const escaped = Buffer.from([...CHUNK].flatMap((b) => (b === IAC ? [IAC, IAC] : [b])));

/** Writes `total` payload bytes (as `chunk`, which may be the escaped form) with backpressure. */
async function pump(sock, chunk, payloadPerChunk, total) {
  for (let sent = 0; sent < total; sent += payloadPerChunk) if (!sock.write(chunk)) await once(sock, 'drain');
  sock.end();
}

async function run(kind, direction) {
  let upSock;
  const gotUp = new Promise((r) => (upSock = r));
  const up = net.createServer({ allowHalfOpen: true }, (s) => upSock(s)).listen(0, '127.0.0.1');
  await once(up, 'listening');
  const upPort = up.address().port;
  const port = await freePort();
  const cmd =
    kind === 'socat'
      ? ['socat', [`TCP-LISTEN:${port},bind=127.0.0.1,reuseaddr`, `TCP:127.0.0.1:${upPort}`]]
      : [process.execPath, [PTYBRIDGE, '-q', `tcp-listen:${port}${kind === 'telnet' ? '?telnet' : ''}`, `tcp:127.0.0.1:${upPort}`]];
  const proc = spawn(cmd[0], cmd[1], { stdio: 'ignore' });
  let c;
  for (let i = 0; i < 200; i++) {
    try {
      c = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
      await once(c, 'connect');
      break;
    } catch {
      await new Promise((r) => setTimeout(r, 25));
    }
  }
  const telnet = kind === 'telnet';
  if (telnet) c.write(Buffer.from([IAC, 253, 0, IAC, 251, 0])); // DO BINARY, WILL BINARY
  const s = await gotUp;
  await new Promise((r) => setTimeout(r, 100)); // negotiation settled
  const t0 = process.hrtime.bigint();
  let received = 0;
  const [src, dst] = direction === 'up' ? [c, s] : [s, c];
  const done = new Promise((r) => {
    dst.on('data', (d) => (received += d.length));
    dst.on('end', r);
  });
  await pump(src, direction === 'up' && telnet ? escaped : CHUNK, CHUNK.length, SIZE);
  await done;
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  c.destroy();
  s.destroy();
  up.close();
  proc.kill();
  await once(proc, 'exit');
  // Down with telnet: the client got escaped bytes plus negotiation; count payload by size.
  if (direction === 'up' && received !== SIZE) throw new Error(`${kind} ${direction}: ${received} != ${SIZE}`);
  return SIZE / 1e6 / secs;
}

const median = (xs) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const rows = [];
for (const direction of ['up', 'down']) {
  const res = {};
  for (const kind of ['socat', 'tcp', 'telnet']) {
    const xs = [];
    for (let i = 0; i < ROUNDS; i++) xs.push(await run(kind, direction));
    res[kind] = median(xs);
  }
  rows.push(
    `| ${direction === 'up' ? 'client → device (unescape)' : 'device → client (escape)'} | ${res.socat.toFixed(0)} | ${res.tcp.toFixed(0)} | ${res.telnet.toFixed(0)} | ${(res.telnet / res.tcp).toFixed(2)} | ${(res.telnet / res.socat).toFixed(2)} |`,
  );
}
console.log(`### telnet mode throughput (${args.mib} MiB random data, median of ${ROUNDS}, ${os.cpus().length} cores)\n`);
console.log('| direction | socat MB/s | ptybridge tcp MB/s | ptybridge ?telnet MB/s | telnet/tcp | telnet/socat |');
console.log('|---|---|---|---|---|---|');
console.log(rows.join('\n'));

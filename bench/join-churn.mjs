// Join/leave churn on a hub (issue 21 item 1): thousands of plain TCP peers join a read-only
// door, then leave, while a probe GETs the web door every 100 ms. Reports the worst probe,
// the accept rate of the first and the last thousand joiners, and the stop time after it.
// Usage: npm run build:js && node bench/join-churn.mjs [peers=5000] [ptybridge.mjs] [extra device options]
//   e.g. node bench/join-churn.mjs 5000 /tmp/oldmain/dist/ptybridge.mjs           (a build of old main)
//        node bench/join-churn.mjs 5000 dist/ptybridge.mjs max-peers=10000       (past the default cap)
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import http from 'node:http';
import net from 'node:net';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { treeCpu } from './proc.mjs';

const PEERS = Number(process.argv[2] ?? 5000);
const PTYB = process.argv[3] ? resolve(process.argv[3]) : fileURLToPath(new URL('../dist/ptybridge.mjs', import.meta.url));
const EXTRA = process.argv[4] ? `&${process.argv[4]}` : '';
/** Connections opened at once: enough to keep the accept queue busy, few enough that the client is not the bottleneck. */
const AT_ONCE = 64;
/** A probe or a step that takes longer is reported as "no answer" rather than waited for. */
const GIVE_UP_MS = 60_000;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const proc = spawn(process.execPath, [PTYB, `exec:cat?share${EXTRA}`, 'tcp-listen:0?readonly', 'ws-listen:0?token=T'], { stdio: ['ignore', 'ignore', 'pipe'] });
let stderr = '';
const ports = [];
await new Promise((res, rej) => {
  proc.stderr.setEncoding('utf8');
  proc.stderr.on('data', (t) => {
    stderr += t;
    for (const m of t.matchAll(/listening on \S+ \S*?:(\d+)/g)) if (ports.push(Number(m[1])) === 2) res();
  });
  proc.once('exit', () => rej(new Error(`ptybridge exited:\n${stderr}`)));
});
const [tcpPort, wsPort] = ports;

// The probe: one GET of the web door's page every 100 ms, each timed until its answer ends.
let worst = 0;
let probes = 0;
let probing = true;
const probe = (async () => {
  while (probing) {
    const t0 = performance.now();
    await new Promise((res) => {
      const req = http.get({ host: '127.0.0.1', port: wsPort, path: '/?token=T', agent: false, timeout: GIVE_UP_MS }, (r) => {
        r.resume();
        r.on('end', res);
      });
      req.on('error', res);
      req.on('timeout', () => {
        req.destroy();
        res();
      });
    });
    worst = Math.max(worst, performance.now() - t0);
    probes++;
    await sleep(100);
  }
})();

// Joins: each peer counts as accepted once the hub greets it (a read-only door's replay
// comes first; cat prints nothing, so the connect itself is what is timed).
const sockets = [];
const thousands = [];
let next = 0;
let refused = 0;
const t0 = performance.now();
let mark = t0;
await Promise.all(
  Array.from({ length: AT_ONCE }, async () => {
    while (next < PEERS) {
      const i = next++;
      const s = net.connect(tcpPort, '127.0.0.1');
      s.on('error', () => {});
      s.on('close', () => {
        if (!s.leaving) refused++;
      });
      await Promise.race([once(s, 'connect'), sleep(GIVE_UP_MS)]);
      sockets.push(s);
      if ((i + 1) % 1000 === 0) {
        const now = performance.now();
        thousands.push(1000 / ((now - mark) / 1000));
        mark = now;
      }
    }
  }),
);
const joinSecs = (performance.now() - t0) / 1000;
await sleep(500);
const cpuAfterJoin = treeCpu(proc.pid);
for (const s of sockets) {
  s.leaving = true;
  s.destroy();
}
// The probe goes on through the leaves (a probe in flight is waited for, up to GIVE_UP_MS).
await sleep(3000);
probing = false;
await probe;
const stop0 = performance.now();
proc.kill('SIGTERM');
const [code] = await Promise.race([once(proc, 'exit'), sleep(GIVE_UP_MS).then(() => [null])]);
const stopMs = performance.now() - stop0;
if (code === null) proc.kill('SIGKILL');
console.log(`ptybridge ${PTYB} (device options: ${EXTRA || 'none'})`);
console.log(
  `| peers | joins/s 1st thousand | joins/s last thousand | join phase | refused (closed by the server) | worst probe GET (${probes} probes) | CPU s after joins | SIGTERM → exit |`,
);
console.log(`|---|---|---|---|---|---|---|---|`);
console.log(
  `| ${PEERS} | ${thousands[0]?.toFixed(0)} | ${thousands.at(-1)?.toFixed(0)} | ${joinSecs.toFixed(1)} s | ${refused} | ${worst.toFixed(0)} ms | ${cpuAfterJoin.toFixed(1)} | ${code === null ? 'no exit in 60 s' : `${stopMs.toFixed(0)} ms (status ${code})`} |`,
);
process.exit(0);

// Shared by the bench scripts: a free loopback port, and a process's CPU, fds and RSS read from /proc.
import { readFileSync, readdirSync } from 'node:fs';
import { once } from 'node:events';
import net from 'node:net';

const HZ = 100; // USER_HZ on Linux

/** A free TCP port on 127.0.0.1, for peer tools that cannot bind port 0 and report it. */
export async function freePort() {
  const s = net.createServer().listen(0, '127.0.0.1');
  await once(s, 'listening');
  const { port } = s.address();
  await new Promise((r) => s.close(r));
  return port;
}

/** utime + stime, in seconds, of `root` and every live descendant (websockify forks per peer). */
export function treeCpu(root) {
  const stats = new Map();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const s = readFileSync(`/proc/${d}/stat`, 'utf8');
      const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
      stats.set(Number(d), { ppid: Number(f[1]), cpu: (Number(f[11]) + Number(f[12])) / HZ });
    } catch {}
  }
  let sum = 0;
  const walk = (pid) => {
    sum += stats.get(pid)?.cpu ?? 0;
    for (const [p, s] of stats) if (s.ppid === pid) walk(p);
  };
  walk(root);
  return sum;
}

/** Open file descriptors of a live process. */
export const fds = (pid) => readdirSync(`/proc/${pid}/fd`).length;

/** Resident memory of a live process, in MiB. */
export const rssMiB = (pid) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) / 1024;

/** Lines of a child's stdout, one at a time: `line()` resolves with the next one (waiting for it). */
export function lineReader(stdout) {
  stdout.setEncoding('utf8');
  let buf = '';
  const lines = [];
  const waiters = [];
  stdout.on('data', (t) => {
    buf += t;
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      lines.push(buf.slice(0, i));
      buf = buf.slice(i + 1);
      waiters.splice(0).forEach((f) => f());
    }
  });
  return async () => {
    while (!lines.length) await new Promise((r) => waiters.push(r));
    return lines.shift();
  };
}

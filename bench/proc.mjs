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

/**
 * CPU time, in seconds, of one process: the sum of its threads' run time from
 * /proc/PID/task/TID/schedstat (nanoseconds; utime+stime count 10 ms ticks, too coarse for
 * a forwarder that spends 50 ms on 100 MB), or utime+stime where schedstat is missing.
 */
function processCpu(pid, statFields) {
  try {
    let ns = 0;
    for (const t of readdirSync(`/proc/${pid}/task`)) ns += Number(readFileSync(`/proc/${pid}/task/${t}/schedstat`, 'utf8').split(' ')[0]);
    return ns / 1e9;
  } catch {
    return (Number(statFields[11]) + Number(statFields[12])) / HZ;
  }
}

/** The pids of `root` and its live descendants. */
export function tree(root) {
  const parent = new Map();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const s = readFileSync(`/proc/${d}/stat`, 'utf8');
      parent.set(Number(d), Number(s.slice(s.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {}
  }
  const out = [];
  const walk = (pid) => {
    if (!parent.has(pid)) return;
    out.push(pid);
    for (const [p, pp] of parent) if (pp === pid) walk(p);
  };
  walk(root);
  return out;
}

/** CPU seconds of `root` and every live descendant (websockify forks per peer). */
export function treeCpu(root) {
  let sum = 0;
  for (const pid of tree(root)) {
    try {
      const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
      sum += processCpu(pid, s.slice(s.lastIndexOf(')') + 2).split(' '));
    } catch {}
  }
  return sum;
}

/**
 * System calls and wakeups of `root` and its live descendants: read and write calls
 * (/proc/PID/io syscr, syscw) and context switches (voluntary: the process slept and was
 * woken; /proc/PID/task/TID/status), for "wakeups per MB".
 */
export function treeCalls(root) {
  const sum = { reads: 0, writes: 0, sleeps: 0 };
  for (const pid of tree(root)) {
    try {
      const io = readFileSync(`/proc/${pid}/io`, 'utf8');
      sum.reads += Number(/syscr: (\d+)/.exec(io)[1]);
      sum.writes += Number(/syscw: (\d+)/.exec(io)[1]);
      for (const t of readdirSync(`/proc/${pid}/task`)) {
        sum.sleeps += Number(/voluntary_ctxt_switches:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/task/${t}/status`, 'utf8'))[1]);
      }
    } catch {}
  }
  return sum;
}

/** What happened between two treeCalls() samples, per MB moved. */
export function callsPerMB(a, b, mb) {
  return { reads: (b.reads - a.reads) / mb, writes: (b.writes - a.writes) / mb, sleeps: (b.sleeps - a.sleeps) / mb };
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

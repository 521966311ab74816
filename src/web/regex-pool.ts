// Runs API callers' regular expressions in worker threads with a time budget: a catastrophic pattern (ReDoS, `(a+)+$`) ends its worker, not the event loop every console is served from.
import { readFileSync } from 'node:fs';
import { Worker } from 'node:worker_threads';

/** A match as the API answers it. */
export interface Found {
  index: number;
  match: string;
  groups: (string | undefined)[];
  named: Record<string, string | undefined>;
}

/** The pattern ran past its budget: its worker was stopped. */
export class RegexTooSlow extends Error {}

// Inline (eval) so that the bundle and the single binary need no second file. Compiled
// patterns are kept per worker: an expect re-runs its pattern on every new chunk.
// The worker first says its thread id (Linux: /proc/thread-self), so that its budget counts the
// CPU time it was given, not the time it waited for a core.
const WORKER = `
const { parentPort } = require('node:worker_threads');
let tid;
try { tid = Number(require('node:fs').readlinkSync('/proc/thread-self').split('/').pop()); } catch {}
parentPort.postMessage({ tid });
const compiled = new Map();
parentPort.on('message', ({ id, source, flags, text }) => {
  let re = compiled.get(flags + '/' + source);
  if (!re) {
    if (compiled.size > 256) compiled.clear();
    re = new RegExp(source, flags);
    compiled.set(flags + '/' + source, re);
  }
  const m = re.exec(text);
  parentPort.postMessage({ id, found: m && { index: m.index, match: m[0], groups: m.slice(1), named: m.groups ? { ...m.groups } : {} } });
});
`;

interface Job {
  id: number;
  owner: string;
  source: string;
  flags: string;
  text: string;
  resolve(f: Found | null): void;
  reject(e: Error): void;
}

interface Slot {
  worker: Worker;
  /** The worker runs JavaScript: a budget counted before this would count its start-up too. */
  online: boolean;
  /** Its thread's id, to read the CPU time it used (undefined: not on Linux; wall time then). */
  tid?: number;
  job?: Job;
  timer?: NodeJS.Timeout;
  /** CPU ms of the thread and the wall clock when the job's budget started. */
  cpuAtStart?: number;
  wallAtStart?: number;
}

/** How much longer than its budget in wall time a pattern may take while the machine starves it of CPU. */
const STARVED_WALL_FACTOR = 30;

/** CPU milliseconds a thread of this process has used (utime + stime), or undefined. */
function threadCpuMs(tid: number | undefined): number | undefined {
  if (tid === undefined) return undefined;
  try {
    const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'latin1');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // Fields 14 and 15 of stat(5), in clock ticks: 100 a second on Linux (USER_HZ).
    return (Number(f[11]) + Number(f[12])) * 10;
  } catch {
    return undefined;
  }
}

/**
 * A few workers; each runs one match at a time, and one owner (an API caller) has at most
 * one match running, so a caller with hostile patterns holds one worker at a time, for at
 * most `budgetMs` each, while the others serve everyone else.
 */
export class RegexPool {
  private readonly slots: Slot[] = [];
  private readonly queue: Job[] = [];
  private nextId = 0;
  /** Patterns that ran out of time: answered at once next time, without a worker. */
  private readonly slow = new Set<string>();

  constructor(
    readonly size = 2,
    readonly budgetMs = 1000,
  ) {}

  exec(source: string, flags: string, text: string, owner: string): Promise<Found | null> {
    if (this.slow.has(`${flags}/${source}`)) return Promise.reject(new RegexTooSlow());
    return new Promise((resolve, reject) => {
      this.queue.push({ id: this.nextId++, owner, source, flags, text, resolve, reject });
      this.dispatch();
    });
  }

  private dispatch(): void {
    for (;;) {
      const running = new Set(this.slots.flatMap((s) => (s.job ? [s.job.owner] : [])));
      const at = this.queue.findIndex((j) => !running.has(j.owner));
      if (at < 0) return;
      let slot = this.slots.find((s) => !s.job);
      if (!slot) {
        if (this.slots.length >= this.size) return;
        slot = this.spawn();
      }
      const job = this.queue.splice(at, 1)[0]!;
      slot.job = job;
      slot.worker.ref();
      if (slot.online) this.startBudget(slot);
      slot.worker.postMessage({ id: job.id, source: job.source, flags: job.flags, text: job.text });
    }
  }

  private startBudget(slot: Slot): void {
    slot.cpuAtStart = threadCpuMs(slot.tid);
    slot.wallAtStart = Date.now();
    this.armBudget(slot, this.budgetMs);
  }

  /**
   * The budget is CPU time where the thread's can be read: on a machine busier than its cores
   * a plain pattern may wait longer than the budget for a core, and a pattern found slow is
   * refused from then on. A pattern that is using its core runs out as before.
   */
  private armBudget(slot: Slot, ms: number): void {
    slot.timer = setTimeout(() => {
      slot.timer = undefined;
      const used = slot.cpuAtStart === undefined ? undefined : threadCpuMs(slot.tid);
      const wall = Date.now() - (slot.wallAtStart ?? 0);
      if (used !== undefined && used - slot.cpuAtStart! < this.budgetMs - 20 && wall < this.budgetMs * STARVED_WALL_FACTOR)
        return this.armBudget(slot, Math.max(50, this.budgetMs - (used - slot.cpuAtStart!)));
      this.kill(slot, new RegexTooSlow());
    }, ms);
  }

  private spawn(): Slot {
    const slot: Slot = { worker: new Worker(WORKER, { eval: true }), online: false };
    // A worker can take over a second to start on a loaded machine: the first pattern it was
    // given would be judged slow (and refused from then on) for time it never ran.
    slot.worker.on('message', (m: { id: number; found: Found | null } | { tid?: number }) => {
      if (!('id' in m)) {
        slot.online = true;
        slot.tid = m.tid;
        if (slot.job && !slot.timer) this.startBudget(slot);
        return;
      }
      const job = slot.job;
      if (!job || job.id !== m.id) return;
      this.done(slot);
      job.resolve(m.found);
    });
    slot.worker.on('error', (err) => this.kill(slot, err));
    slot.worker.on('exit', () => this.kill(slot, new Error('the regex worker exited')));
    this.slots.push(slot);
    return slot;
  }

  private done(slot: Slot): void {
    clearTimeout(slot.timer);
    slot.timer = undefined;
    slot.job = undefined;
    // An idle worker does not keep ptybridge running.
    slot.worker.unref();
    this.dispatch();
  }

  /** Ends a worker (its match ran out of time, or it failed); its job fails, the queue goes on. */
  private kill(slot: Slot, err: Error): void {
    const i = this.slots.indexOf(slot);
    if (i < 0) return;
    this.slots.splice(i, 1);
    clearTimeout(slot.timer);
    void slot.worker.terminate();
    const job = slot.job;
    slot.job = undefined;
    if (job) {
      if (err instanceof RegexTooSlow) {
        if (this.slow.size >= 1000) this.slow.clear();
        this.slow.add(`${job.flags}/${job.source}`);
      }
      job.reject(err);
    }
    this.dispatch();
  }
}

// The hub's side of the HTTP console API: a bounded output ring with absolute offsets, and input through one peer per caller (so roles, policy, ?log-input and the transcript apply).
import { Duplex } from 'node:stream';
import type { ConsoleApi, HistoryFile, OutputSlice, Refusal, ScreenView } from '../core/console-api.js';
import type { PeerLink } from '../core/link.js';
import type { Role } from '../core/roles.js';
import type { HubObserver } from './hub-observers.js';

/** Output kept for callers that come back with a cursor: older bytes answer with `gap`. */
export const RING_BYTES = 1 << 20;
/** Callers that send at once: each has its own peer; past this the oldest is let go. */
const MAX_CALLER_PEERS = 64;

export class OutputRing {
  private chunks: Buffer[] = [];
  private bytes = 0;
  /** Offset of chunks[0][0]. */
  private start = 0;
  private waiters = new Set<() => void>();

  constructor(private readonly limit = RING_BYTES) {}

  get end(): number {
    return this.start + this.bytes;
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    // Device chunks are never written to after they are emitted (peers' write queues and the
    // screen model hold them too): one that owns most of its memory is kept as it is, not
    // copied (a copy and an allocation per 64 KiB of a pty flood); a small view of a larger
    // buffer is copied so that it does not pin the rest.
    this.chunks.push(chunk.byteLength * 2 >= chunk.buffer.byteLength ? chunk : Buffer.from(chunk));
    this.bytes += chunk.length;
    while (this.bytes - this.chunks[0]!.length >= this.limit) {
      const old = this.chunks.shift()!;
      this.bytes -= old.length;
      this.start += old.length;
    }
    const w = [...this.waiters];
    this.waiters.clear();
    for (const f of w) f();
  }

  read(since: number, max: number): OutputSlice {
    const gap = since < this.start;
    const from = Math.min(Math.max(since, this.start), this.end);
    const parts: Buffer[] = [];
    let pos = this.start;
    let taken = 0;
    for (const c of this.chunks) {
      const cEnd = pos + c.length;
      if (cEnd > from && taken < max) {
        const cut = c.subarray(Math.max(0, from - pos)).subarray(0, max - taken);
        parts.push(cut);
        taken += cut.length;
      }
      pos = cEnd;
    }
    return { data: Buffer.concat(parts), from, next: from + taken, gap };
  }

  waitFor(offset: number, signal: AbortSignal): Promise<void> {
    if (this.end > offset || signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        this.waiters.delete(done);
        signal.removeEventListener('abort', done);
        resolve();
      };
      this.waiters.add(done);
      signal.addEventListener('abort', done, { once: true });
    });
  }
}

/** What the hub lends the API: how a link joins it, and its screen model if any. */
export interface HubForApi {
  add(link: PeerLink, door: string): void;
  screen(): Promise<ScreenView | undefined>;
  /** A waiting caller's place under ?max-peers (see ConsoleApi.hold). */
  hold(label: string): { release(): void } | { max: number };
  /** The console's recordings (?history, --history), when it keeps them. */
  history?: { files(): HistoryFile[]; pathOf(name: string): string | undefined } | undefined;
}

const READ_ONLY: Refusal = { status: 403, why: 'read-only: this token may watch, not type' };
const FULL: Refusal = { status: 503, why: 'the console has its most peers (?max-peers): try again later' };

/** The console API of one hub, and the observer that fills its ring. */
export function consoleApi(hub: HubForApi): { api: ConsoleApi; observer: HubObserver } {
  const ring = new OutputRing();
  const callers = new Map<string, Duplex>();
  const streamFor = (caller: { role: Role; user?: string; label: string }): Duplex => {
    const key = `${caller.role}\0${caller.user ?? ''}\0${caller.label}`;
    let s = callers.get(key);
    if (s && !s.destroyed) return s;
    if (callers.size >= MAX_CALLER_PEERS) {
      const [oldKey, old] = callers.entries().next().value as [string, Duplex];
      callers.delete(oldKey);
      old.destroy();
    }
    // Its output (the device's, notices) is already in the ring: dropped here.
    s = new Duplex({
      read() {},
      write(_c, _e, cb) {
        cb();
      },
    });
    callers.set(key, s);
    s.once('close', () => callers.get(key) === s && callers.delete(key));
    hub.add({ stream: s, label: caller.label, role: caller.role, ...(caller.user !== undefined ? { user: caller.user } : {}) }, 'api');
    return s;
  };
  return {
    observer: { deviceOutput: (chunk) => ring.push(chunk) },
    api: {
      read: (since, max) => ring.read(since, max),
      end: () => ring.end,
      waitFor: (offset, signal) => ring.waitFor(offset, signal),
      screen: () => hub.screen(),
      hold: (label) => hub.hold(label),
      ...(hub.history ? { history: hub.history } : {}),
      send(bytes, caller) {
        if (caller.role !== 'full') return READ_ONLY;
        const s = streamFor(caller);
        // The hub closes a peer it cannot take (?max-peers) at once.
        if (s.destroyed) return FULL;
        s.push(bytes);
        return undefined;
      },
      sendBreak(ms, caller) {
        if (caller.role !== 'full') return READ_ONLY;
        const s = streamFor(caller);
        if (s.destroyed) return FULL;
        // As the page asks for one: the hub applies it if the policy lets this peer type.
        s.emit('control', { type: 'break', ms });
        return undefined;
      },
    },
  };
}

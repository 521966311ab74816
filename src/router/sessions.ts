// Per-peer exec: sessions that outlive their browser tab's socket: a reload or a dropped network reattaches to the same shell and gets its screen.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { HubSettings } from '../core/hub-settings.js';
import { hubSettingsOf } from '../endpoints/hub-options.js';
import type { Control, PeerLink, PipeEnd, SessionRequest } from '../core/link.js';
import type { Spec } from '../core/endpoint.js';
import type { Logger } from '../log.js';
import { applyControl } from './controls.js';
import { Peer } from './peer.js';
import { makeReplay, type Replay } from './replay.js';

/**
 * The store for one route, or undefined when the route keeps no sessions: only a per-peer
 * `exec:` on a pty with `?linger` above 0 has a shell worth coming back to.
 */
export function sessionStoreFor(spec: Spec, log: Logger): SessionStore | undefined {
  const o = spec.options as { linger?: number; pipes?: boolean };
  if (spec.scheme !== 'exec' || o.pipes || !o.linger) return undefined;
  return new SessionStore(o.linger, hubSettingsOf(spec), log);
}

/**
 * Sessions by id. An id is 128 random bits chosen here and told to the page, which keeps it
 * for its tab; a peer that presents it with the credential the session was made with gets
 * the session back, any other peer (unknown or expired id, other credential, or the
 * session attached to another tab) a new one.
 */
export class SessionStore {
  private readonly sessions = new Map<string, Session>();
  /** Detached shells one credential may leave behind; a page that reconnects in a loop without its id must not pile up shells. */
  static readonly MAX_DETACHED = 16;
  /** How long a presented session attached to another socket is waited for (a reload's old socket closing). */
  static readonly RELOAD_WAIT_MS = 3000;

  constructor(
    private readonly linger: number,
    private readonly settings: HubSettings,
    private readonly log: Logger,
  ) {}

  /** Gives a peer that asks for a session (`peer.session`) its session back, or a new one made with `open`. */
  async attach(peer: PeerLink, req: SessionRequest, open: () => Promise<PipeEnd>): Promise<void> {
    const old = this.sessions.get(req.requested);
    if (old?.attached && sameOwner(old.owner, req.owner)) {
      // A reload: the new page's socket and the old page's close travel on two connections,
      // with no order between them; under load the new one can come first. Give the old one
      // a moment to leave before taking this for a second tab (a duplicated tab waits, then
      // gets its own shell).
      await old.detachedWithin(SessionStore.RELOAD_WAIT_MS);
      if (peer.stream.destroyed) return;
    }
    if (old && !old.attached && !old.ended && sameOwner(old.owner, req.owner)) return old.attach(peer, true);
    this.trim(req.owner);
    const replay = await makeReplay(this.settings.replay, this.settings.size);
    const link = await open().catch((err: unknown) => {
      replay.dispose();
      throw err;
    });
    if (peer.stream.destroyed) {
      replay.dispose();
      return void link.stream.destroy();
    }
    const id = randomBytes(16).toString('base64url');
    const s = new Session(id, req, link, replay, this.settings, this.linger, this.log, () => this.sessions.delete(id));
    this.sessions.set(id, s);
    req.assign(id);
    s.attach(peer, false);
  }

  /** Hangs up the oldest detached sessions of `owner` beyond MAX_DETACHED - 1 (Map order is creation order). */
  private trim(owner: string): void {
    const detached = [...this.sessions.values()].filter((s) => !s.attached && sameOwner(s.owner, owner));
    for (const s of detached.slice(0, Math.max(0, detached.length - (SessionStore.MAX_DETACHED - 1)))) void s.close();
  }

  async closeAll(): Promise<void> {
    await Promise.all([...this.sessions.values()].map((s) => s.close()));
  }
}

function sameOwner(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** One shell and at most one tab: its output goes to the screen model always, and to the tab while one is attached. */
class Session {
  private peer: Peer | undefined;
  private timer: NodeJS.Timeout | undefined;
  private over = false;
  readonly owner: string;
  /** For logs: enough of the id to tell sessions apart, not enough to resume one. */
  private readonly tag: string;

  constructor(
    id: string,
    req: SessionRequest,
    private readonly link: PipeEnd,
    private readonly replay: Replay,
    private readonly settings: HubSettings,
    private readonly linger: number,
    private readonly log: Logger,
    private readonly forget: () => void,
  ) {
    this.owner = req.owner;
    this.tag = `${link.label} session ${id.slice(0, 4)}…`;
    const s = link.stream;
    s.on('data', (chunk: Buffer) => {
      this.replay.push(chunk);
      if (!this.peer) return;
      this.peer.send(chunk);
      this.pace();
    });
    s.on('drain', () => this.peer?.link.stream.resume());
    s.on('error', (err: Error) => this.log.info(`${this.tag}: ${err.message}`));
    s.once('end', () => void this.close());
    s.once('close', () => void this.close());
  }

  /**
   * The shell is read as fast as its tab takes the output: while the tab's stream is past its
   * high-water mark (a slow network, a page that said `pause`) or the tab waits for its screen,
   * the shell is not read and blocks writing, instead of its output piling up here or the tab
   * being dropped for a flood it could have paced. With no tab the shell is read into the model.
   */
  private pace(): void {
    const p = this.peer;
    const behind = p !== undefined && !p.dropped && !p.link.stream.destroyed && (p.holding || p.link.stream.writableNeedDrain);
    const s = this.link.stream;
    if (behind && !s.isPaused()) s.pause();
    else if (!behind && s.isPaused()) s.resume();
  }

  get attached(): boolean {
    return this.peer !== undefined;
  }

  get ended(): boolean {
    return this.over;
  }

  private readonly detachWaiters = new Set<() => void>();

  /** Resolves when no tab is attached (or the session ended), or after `ms`. */
  detachedWithin(ms: number): Promise<void> {
    if (!this.peer || this.over) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.detachWaiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.detachWaiters.add(done);
    });
  }

  private wakeDetachWaiters(): void {
    for (const w of [...this.detachWaiters]) w();
  }

  attach(link: PeerLink, resumed: boolean): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    const peer = new Peer(link, this.settings['peer-queue'], (p, queued) => this.log.warn(`${p.label}: dropped, not reading (${queued} bytes queued)`));
    this.peer = peer;
    this.log.info(`${this.tag}: ${resumed ? 'resumed' : 'started'} by ${link.label}`);
    if (resumed) {
      // Held from now: the screen as of this byte comes first, then what followed it.
      peer.hold();
      this.replay.snapshot((first) => {
        peer.release(first);
        this.pace();
      });
    }
    const s = link.stream;
    s.on('error', () => {});
    s.on('drain', () => this.peer === peer && this.pace());
    s.on('data', (chunk: Buffer) => {
      if (this.peer !== peer || this.over) return;
      peer.in += chunk.length;
      if (!this.link.stream.write(chunk)) s.pause();
    });
    s.on('control', (c: Control) => {
      if (this.peer !== peer) return;
      if (c.type === 'resize' && this.link.resize) this.replay.resize(c.cols, c.rows);
      applyControl(this.link, c, this.log);
    });
    s.once('end', () => void peer.close());
    s.once('close', () => this.detach(peer));
    this.pace();
  }

  /** The tab went away: keep the shell for `linger`, reading its output into the model. */
  private detach(peer: Peer): void {
    if (this.peer !== peer) return;
    this.peer = undefined;
    this.wakeDetachWaiters();
    if (this.over) return;
    this.pace();
    this.log.info(`${this.tag}: detached (${peer.label} left); kept for ${this.linger} ms`);
    this.timer = setTimeout(() => {
      this.log.info(`${this.tag}: nobody came back within ${this.linger} ms; hanging up`);
      void this.close();
    }, this.linger);
    this.timer.unref();
  }

  /** Ends the session: the shell is hung up (SIGHUP, by its link), the tab if any is flushed and closed. */
  async close(): Promise<void> {
    if (this.over) return;
    this.over = true;
    clearTimeout(this.timer);
    this.wakeDetachWaiters();
    this.forget();
    this.replay.dispose();
    this.link.stream.destroy();
    await this.peer?.close();
  }
}

// The hub: one shared device, many peers (DESIGN §3) — fan-out with replay, merged input, policies, reopen.
import { setTimeout as sleep } from 'node:timers/promises';
import { describeOsError, EndpointError, type PtybError } from '../errors.js';
import { hubSettingsOf, type HubSettings } from '../endpoints/hub-options.js';
import type { Control, ConnectingType, Link, Listener, ListeningType, OpenContext, RouteStatus, Spec } from '../endpoints/types.js';
import { applyControl } from './controls.js';
import { Peer } from './peer.js';
import { Replay } from './replay.js';
import { bind, listeningRoute, type Route, type RouteContext } from './route.js';
import { formatTrace } from './trace.js';

/** Reopen backoff after a device is lost: 100 ms doubling to 5 s (reset once it stays up 5 s). */
const FIRST_DELAY_MS = 100;
const MAX_DELAY_MS = 5000;
/** How long a peer that ended its input still gets output (socat's -t default). */
const PEER_LINGER_MS = 500;

type Device = { type: ConnectingType; spec: Spec };

/**
 * Opens the device once, binds the listeners (one, or several: a telnet port and a web page
 * on the same console), and shares the device among the peers that come and go through any
 * of them. Rejects (exit 1) if a listener cannot be bound, or the device cannot be opened
 * at start and the route does not wait for it.
 */
export async function runHub(
  device: Device,
  listening: { type: ListeningType; spec: Spec }[],
  ctx: RouteContext,
  openCtx: OpenContext,
  abort: AbortController,
): Promise<Route> {
  const hub = new Hub(device, hubSettingsOf(device.spec.options as Record<string, unknown>), ctx, openCtx);
  await hub.start();
  const listeners: Listener[] = [];
  try {
    const routeCtx = { ...openCtx, route: { name: ctx.name, status: () => hub.status() } };
    for (const l of listening) {
      listeners.push(await bind(l, (peer) => hub.add(peer), ctx, routeCtx));
    }
  } catch (err) {
    abort.abort();
    await Promise.all(listeners.map((l) => l.close()));
    await hub.close();
    throw err;
  }
  return listeningRoute(listeners, () => hub.close(), abort);
}

/** A device missing at start that must not be waited for (see ConnectingType.neverWaitFor): its route does not start, the others do. */
export class DeviceNotWaitedError extends EndpointError {
  constructor(err: EndpointError, why: string) {
    super(err.endpoint, err.cause);
    this.message = `${err.message}; ${why}`;
  }
}

class Hub {
  private link: Link | undefined;
  private readonly peers = new Set<Peer>();
  private readonly replay: Replay;
  /** Set while the device refuses more input: every peer's input is paused until it drains. */
  private inputPaused = false;
  private closing = false;
  private openedAt = 0;
  private nextDelay = FIRST_DELAY_MS;
  private readonly reopenAbort = new AbortController();
  private reopening: Promise<void> | undefined;
  /** Whether the device was attached before: the transcript says "reopened" after a loss. */
  private everOpen = false;
  /** The device's label when it was last open: the index still names it while it is lost. */
  private label: string | undefined;

  constructor(
    private readonly device: Device,
    private readonly settings: HubSettings,
    private readonly ctx: RouteContext,
    private readonly openCtx: OpenContext,
  ) {
    this.replay = new Replay(settings.replay);
  }

  private get log() {
    return this.ctx.log;
  }

  /** For listeners that show their route (the ws-listen index): the device's state and the peer count. */
  status(): RouteStatus {
    return { device: { label: this.label ?? this.device.spec.uri, open: this.link !== undefined }, peers: this.peers.size };
  }

  /**
   * First open. A failure fails the route (exit 1) unless the route waits for its device
   * (config files, --wait-for-device): then the device is shown down and retried with the
   * backoff of a lost one while the listeners serve.
   */
  async start(): Promise<void> {
    let link: Link;
    try {
      link = await this.open();
    } catch (err) {
      if (!this.ctx.waitForDevice || (err as PtybError).exitCode === 2) throw err;
      const never = this.device.type.neverWaitFor?.(this.device.spec);
      if (never) throw new DeviceNotWaitedError(err as EndpointError, never);
      const why = (err as Error).message;
      this.log.warn(`${why}; waiting for it`);
      this.ctx.transcript?.event(`device ${this.device.spec.uri} not there at start: ${why}`);
      this.reopening = this.reopen(why);
      return;
    }
    this.attach(link);
  }

  private async open(): Promise<Link> {
    try {
      return await this.device.type.open(this.device.spec, this.openCtx);
    } catch (err) {
      throw err instanceof EndpointError ? err : new EndpointError(this.device.spec.uri, err);
    }
  }

  private attach(link: Link): void {
    this.link = link;
    this.label = link.label;
    this.openedAt = Date.now();
    const s = link.stream;
    this.log.info(`${link.label} open, shared (policy ${this.settings.policy})`);
    this.ctx.transcript?.event(`device ${link.label} ${this.everOpen ? 'reopened' : 'attached'}`);
    this.everOpen = true;
    s.on('data', (chunk: Buffer) => this.output(chunk));
    s.on('drain', () => this.resumeInput());
    s.once('error', (err: Error) => this.lost(link, describeOsError(err)));
    s.once('end', () => this.lost(link, 'closed by the other side'));
    s.once('close', () => this.lost(link, 'closed'));
  }

  /** Device output: to the replay ring and to every peer, never waiting for any of them. */
  private output(chunk: Buffer): void {
    this.replay.push(chunk);
    this.ctx.transcript?.data(chunk);
    if (this.ctx.trace) this.ctx.trace(formatTrace(`${this.link?.label ?? 'device'} > peers`, chunk));
    for (const peer of this.peers) peer.send(chunk);
  }

  add(link: Link): void {
    const peer = new Peer(link, this.settings['peer-queue'], (p, queued) =>
      this.log.warn(`${p.label}: dropped, not reading (${queued} bytes queued, limit ${this.settings['peer-queue']})`),
    );
    this.peers.add(peer);
    this.log.info(`${peer.label} connected (${this.peers.size} peer${this.peers.size === 1 ? '' : 's'})`);
    this.ctx.transcript?.event(`${peer.label} connected (${this.peers.size} peer${this.peers.size === 1 ? '' : 's'})`);
    const s = link.stream;
    s.on('error', () => {}); // a peer's reset ends only that peer
    s.on('data', (chunk: Buffer) => this.input(peer, chunk));
    s.on('control', (c: Control) => this.control(peer, c));
    s.once('close', () => this.leave(peer));
    // A peer that stops sending has left, or half-closed after its input (`echo cmd | socat
    // - TCP:…`): like socat's -t, keep sending for a moment, then flush and close, rather
    // than keep a socket that the other side may have closed entirely.
    s.once('end', () => setTimeout(() => void peer.close(), PEER_LINGER_MS).unref());
    if (this.inputPaused) s.pause();
    if (this.replay.length) peer.send(this.replay.contents());
    if (!this.link) peer.notice(`device ${this.device.spec.uri} is down; waiting for it`);
  }

  private leave(peer: Peer): void {
    if (peer.left) return;
    peer.left = true;
    const wasWriter = this.writer() === peer;
    this.peers.delete(peer);
    const refused = peer.refused ? `, ${peer.refused} refused` : '';
    this.log.info(`${peer.label} left${peer.dropped ? ' (dropped)' : ''}: ${peer.out} bytes to it, ${peer.in} bytes from it${refused}`);
    this.ctx.transcript?.event(`${peer.label} left${peer.dropped ? ' (dropped, not reading)' : ''}`);
    if (wasWriter && this.settings.policy === 'exclusive') {
      const next = this.writer();
      if (next) this.log.info(`${next.label} now has the console (exclusive)`);
    }
  }

  /** Under `exclusive`, the earliest peer still connected; Set keeps arrival order. */
  private writer(): Peer | undefined {
    for (const p of this.peers) return p;
    return undefined;
  }

  private mayWrite(peer: Peer): boolean {
    switch (this.settings.policy) {
      case 'shared':
        return true;
      case 'readonly':
        return false;
      case 'exclusive':
        return this.writer() === peer;
    }
  }

  /** Peer input, merged into the device in arrival order, chunk by chunk. */
  private input(peer: Peer, chunk: Buffer): void {
    peer.in += chunk.length;
    if (!this.mayWrite(peer)) {
      peer.refused += chunk.length;
      if (!peer.toldReadOnly) {
        peer.toldReadOnly = true;
        peer.notice(this.settings.policy === 'readonly' ? 'read-only console' : 'read-only: another peer has the console');
      }
      return;
    }
    const link = this.link;
    if (!link || link.stream.destroyed) {
      // Keystrokes for a device that is gone would arrive as stale input when it returns.
      peer.refused += chunk.length;
      return;
    }
    if (this.ctx.trace) this.ctx.trace(formatTrace(`${peer.label} > ${link.label}`, chunk));
    if (!link.stream.write(chunk)) this.pauseInput();
  }

  private control(peer: Peer, c: Control): void {
    if (!this.mayWrite(peer) || !this.link) {
      if (c.type === 'line' || c.type === 'modem') c.reply?.(undefined);
      return;
    }
    applyControl(this.link, c, this.log);
  }

  private pauseInput(): void {
    if (this.inputPaused) return;
    this.inputPaused = true;
    for (const p of this.peers) p.link.stream.pause();
  }

  private resumeInput(): void {
    if (!this.inputPaused) return;
    this.inputPaused = false;
    for (const p of this.peers) p.link.stream.resume();
  }

  /** The device went away: tell the peers, keep them, and reopen it with backoff. */
  private lost(link: Link, reason: string): void {
    if (this.link !== link) return;
    this.link = undefined;
    link.stream.destroy();
    this.resumeInput();
    if (this.closing) return;
    if (Date.now() - this.openedAt >= MAX_DELAY_MS) this.nextDelay = FIRST_DELAY_MS;
    this.log.warn(`${link.label} lost: ${reason}; reopening`);
    this.ctx.transcript?.event(`device ${link.label} lost: ${reason}`);
    for (const p of this.peers) p.notice(`device ${this.device.spec.uri} lost: ${reason}; reopening`);
    this.reopening = this.reopen();
  }

  /** Opens the device with backoff until it comes (`lastError`: already reported). */
  private async reopen(lastError = ''): Promise<void> {
    const signal = this.reopenAbort.signal;
    while (!signal.aborted) {
      try {
        await sleep(this.nextDelay, undefined, { signal });
      } catch {
        return;
      }
      this.nextDelay = Math.min(this.nextDelay * 2, MAX_DELAY_MS);
      let link: Link;
      try {
        link = await this.open();
      } catch (err) {
        const why = (err as Error).message;
        if (why !== lastError) this.log.info(`reopening ${this.device.spec.uri}: ${why}`);
        lastError = why;
        continue;
      }
      if (signal.aborted) {
        link.stream.destroy();
        return;
      }
      const back = this.everOpen ? 'is back' : 'is up';
      this.attach(link);
      this.log.warn(`${link.label} ${back}`);
      for (const p of this.peers) p.notice(`device ${this.device.spec.uri} ${back}`);
      return;
    }
  }

  /** Closes every peer (after flushing what they are owed) and the device. */
  async close(): Promise<void> {
    this.closing = true;
    this.reopenAbort.abort();
    await this.reopening;
    await Promise.all([...this.peers].map((p) => p.close()));
    const link = this.link;
    this.link = undefined;
    if (link && !link.stream.destroyed) {
      // Flush what peers typed, then close (which restores the device's settings).
      const s = link.stream;
      const closed = new Promise<void>((r) => s.once('close', () => r()));
      const timer = setTimeout(() => s.destroy(), 1000);
      s.once('finish', () => s.destroy());
      s.end();
      await closed;
      clearTimeout(timer);
    }
  }
}

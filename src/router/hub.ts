// The hub: one shared device, many peers (docs/ARCHITECTURE.md) — fan-out with replay, merged input and keyboard, reopen; the records observe it (hub-observers.ts).
import { redactSecrets } from '../uri.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { describeOsError, EndpointError, type PtybError } from '../errors.js';
import type { HubSettings } from '../core/hub-settings.js';
import { hubSettingsOf } from '../endpoints/hub-options.js';
import type { Control, DeviceLink, Listener, PeerLink, RouteStatus } from '../core/link.js';
import type { ConnectingType, ListeningType, OpenContext, Spec } from '../core/endpoint.js';
import { applyControl } from './controls.js';
import { Keyboard } from './keyboard.js';
import { Peer } from './peer.js';
import { KeyboardNotices } from './keyboard-notices.js';
import { consoleApi } from './console-api.js';
import type { ScreenView } from '../core/console-api.js';
import { makeReplay, type Replay } from './replay.js';
import { registerConsoleApi, type ConsoleSnapshot } from './consoles.js';
import { inputLogObserver, metricsObserver, traceObserver, transcriptObserver, type HubObserver } from './hub-observers.js';
import { openDoor, doorOf, doorsRoute, type Route, type RouteContext } from './doors.js';
import { historyFor } from './history-setup.js';

/** Reopen backoff after a device is lost: 100 ms doubling to 5 s (reset once it stays up 5 s). */
const FIRST_DELAY_MS = 100;
const MAX_DELAY_MS = 5000;
/** How long a peer that ended its input still gets output (socat's -t default). */
const PEER_LINGER_MS = 500;

type Device = { type: ConnectingType; spec: Spec };

/** The kind of door a peer came through, for metrics: the door's scheme, `telnet` for tcp-listen?telnet. */

/**
 * Opens the device once, opens the doors (one, or several: a telnet port and a web page
 * on the same console), and shares the device among the peers that come and go through any
 * of them. Rejects (exit 1) if a door cannot be bound, or the device cannot be opened
 * at start and the route does not wait for it.
 */
export async function runHub(
  device: Device,
  listening: { type: ListeningType; spec: Spec }[],
  ctx: RouteContext,
  openCtx: OpenContext,
  abort: AbortController,
): Promise<Route> {
  const settings = hubSettingsOf(device.spec);
  const hub = new Hub(device, settings, ctx, openCtx);
  // What records the console watches it; the order matters where two write to one place:
  // the trace of a chunk before its input-log line, a peer's last typed line before its "left".
  hub.observe(metricsObserver(() => hub.consoleState()));
  if (ctx.trace) hub.observe(traceObserver(ctx.trace));
  if (settings['log-input']) hub.observe(inputLogObserver(ctx.transcript, ctx.log));
  if (ctx.transcript) hub.observe(transcriptObserver(ctx.transcript));
  const history = await historyFor(device.spec, listening, settings, ctx);
  if (history) hub.observe(history);
  const { api, observer } = consoleApi({ add: (l, d) => hub.add(l, d), screen: () => hub.screenView(), hold: (label) => hub.holdForApi(label), history });
  hub.observe(observer);
  const closeAll = async () => {
    await hub.close();
    await history?.close();
  };
  // For `ptybridge mcp --config`, which drives the consoles of its own process; left when the hub closes.
  hub.observe({ closing: registerConsoleApi(ctx.name ?? redactSecrets(device.spec.uri), api) });
  try {
    await hub.start();
  } catch (err) {
    await closeAll(); // leaves the consoles list
    throw err;
  }
  // A device that cannot come back (a numbered pty, stdio) ends the route once it is lost.
  let status: number | undefined;
  let route: Route | undefined;
  hub.onGone = (failed) => {
    status = failed ? 1 : 0;
    void route?.stop();
  };
  const listeners: Listener[] = [];
  try {
    const routeCtx = { ...openCtx, route: { name: ctx.name, status: () => hub.status(), api } };
    for (const l of listening) {
      const door = doorOf(l.spec);
      hub.doorKinds.add(door);
      listeners.push(await openDoor(l, (peer) => hub.add(peer, door), ctx, routeCtx));
    }
  } catch (err) {
    abort.abort();
    await Promise.all(listeners.map((l) => l.close()));
    await closeAll();
    throw err;
  }
  route = doorsRoute(listeners, closeAll, abort);
  if (status !== undefined) void route.stop();
  return { done: route.done.then((code) => code || (status ?? 0)), stop: route.stop };
}

/** A device missing at start that must not be waited for (see ConnectingType.neverWaitFor): its route does not start, the others do. */
export class DeviceNotWaitedError extends EndpointError {
  constructor(err: EndpointError, why: string) {
    super(err.endpoint, err.cause);
    this.message = `${err.message}; ${why}`;
  }
}

class Hub {
  private link: DeviceLink | undefined;
  private readonly peers = new Set<Peer>();
  /** Made in start(), before the device opens: no output or peer comes earlier. */
  private replay!: Replay;
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
  /** Called once a device that cannot come back is lost; `failed` unless it was closed on purpose (~. at stdio). */
  onGone: (failed: boolean) => void = () => {};
  private readonly keyboard: Keyboard;
  /** The transcript, input log, metrics and trace: they watch, the hub does not know them. */
  private readonly observers: HubObserver[] = [];
  private readonly notices: KeyboardNotices;
  /** API callers waiting on the output (expect, wait-quiet): ?max-peers counts them with the peers. */
  private apiWaits = 0;
  /** Peers refused past ?max-peers since the last line that said so. */
  private refusals = { count: 0, saidAt: 0 };
  /** The kinds of door this console has: metrics show each, with 0 peers too. */
  readonly doorKinds = new Set<string>();

  constructor(
    private readonly device: Device,
    private readonly settings: HubSettings,
    private readonly ctx: RouteContext,
    private readonly openCtx: OpenContext,
  ) {
    this.keyboard = new Keyboard(settings.policy);
    this.notices = new KeyboardNotices(this.keyboard, this.peers);
  }

  observe(o: HubObserver): void {
    this.observers.push(o);
  }

  private notify<K extends keyof HubObserver>(event: K, ...args: Parameters<NonNullable<HubObserver[K]>>): void {
    for (const o of this.observers) (o[event] as ((...a: typeof args) => void) | undefined)?.(...args);
  }

  /** What --metrics and /api/consoles read at a scrape (the counters are the metrics observer's). */
  consoleState(): Omit<ConsoleSnapshot, 'counters'> {
    const peers: Record<string, number> = Object.fromEntries([...this.doorKinds].map((d) => [d, 0]));
    for (const p of this.peers) peers[p.door] = (peers[p.door] ?? 0) + 1;
    const who = [...this.peers].flatMap((p) => (p.user === undefined ? [] : [{ name: p.user, doing: this.keyboard.doing(p) }]));
    const uri = this.deviceUri;
    return { name: this.ctx.name ?? uri, device: this.label ?? uri, up: this.link !== undefined, peers, who };
  }

  private get log() {
    return this.ctx.log;
  }

  /** The device's address as peers, logs, the index and metrics see it: secrets (`env=`, tokens) hidden. */
  private get deviceUri(): string {
    return redactSecrets(this.device.spec.uri);
  }

  /** For doors that show their route (the ws-listen index): the device's state and the peer count. */
  status(): RouteStatus {
    const who = [...this.peers].map((p) => ({ name: p.user, doing: this.keyboard.doing(p) }));
    const since = this.openedAt ? { since: this.openedAt } : {};
    return { device: { label: this.label ?? this.deviceUri, open: this.link !== undefined, ...since }, peers: this.peers.size, who };
  }

  /**
   * First open. A failure fails the route (exit 1) unless the device may be absent at start:
   * its type says so (a VM's console socket), or the route waits for its device (config
   * files, --wait-for-device). Then it is shown down and retried with the backoff of a lost
   * one while the doors serve.
   */
  async start(): Promise<void> {
    this.replay = await makeReplay(this.settings.replay, this.settings.size);
    let link: DeviceLink;
    try {
      link = await this.open();
    } catch (err) {
      const waits = this.device.type.waitsAtStart?.(this.device.spec) || this.ctx.waitForDevice;
      if (!waits || (err as PtybError).exitCode === 2) throw err;
      const never = this.device.type.neverWaitFor?.(this.device.spec);
      if (never) throw new DeviceNotWaitedError(err as EndpointError, never);
      const why = (err as Error).message;
      this.log.warn(`${why}; waiting for it (peers are told it is down)`, { event: 'device-waiting', device: this.deviceUri, reason: why });
      this.notify('deviceWaiting', this.deviceUri, why);
      this.reopening = this.reopen(undefined, why);
      return;
    }
    this.attach(link);
  }

  private async open(): Promise<DeviceLink> {
    try {
      return await this.device.type.open(this.device.spec, this.openCtx);
    } catch (err) {
      throw err instanceof EndpointError ? err : new EndpointError(this.deviceUri, err);
    }
  }

  private attach(link: DeviceLink, retried = false): void {
    this.link = link;
    this.label = link.label;
    this.openedAt = Date.now();
    // ?replay=since-boot starts over: this open is the boot a joiner is shown from.
    this.replay.boot?.();
    const s = link.stream;
    this.log.info(`${link.label} open, shared (policy ${this.settings.policy})`, { event: 'device-open', device: link.label });
    this.notify('deviceUp', link.label, { again: this.everOpen, retried });
    this.everOpen = true;
    s.on('data', (chunk: Buffer) => this.output(chunk));
    s.on('drain', () => this.resumeInput());
    s.once('error', (err: Error) => this.lost(link, describeOsError(err), true));
    s.once('end', () => {
      // A file's end, stdin's end: the end of what it has to say, not a lost device.
      if (link.endIsNotLoss) this.log.warn(link.endIsNotLoss);
      else this.lost(link, 'closed by the other side', true);
    });
    s.once('close', () => this.lost(link, 'closed'));
  }

  /** Device output: to every peer and to the replay (a queue for the screen model), never waiting for any of them. */
  private output(chunk: Buffer): void {
    this.notify('deviceOutput', chunk, this.link?.label ?? 'device');
    this.replay.push(chunk);
    for (const peer of this.peers) peer.send(chunk);
  }

  /** The screen as text for the console API (only with ?replay=screen). */
  async screenView(): Promise<ScreenView | undefined> {
    return this.replay?.view?.();
  }

  add(link: PeerLink, door = 'other'): void {
    if (this.full()) return this.refuse(link, door);
    const peer = new Peer(link, this.settings['peer-queue'], (p, queued) => {
      this.notify('peerDropped', p, queued);
      this.log.warn(`${p.label}: dropped, not reading (${queued} bytes queued, limit ${this.settings['peer-queue']})`, {
        event: 'peer-dropped',
        peer: p.link.label,
        user: p.user,
        queued,
      });
    });
    peer.door = door;
    this.peers.add(peer);
    this.keyboard.joined(peer);
    const how = peer.role === 'view' ? ', read-only' : '';
    this.log.info(`${peer.label} connected${how} (${this.peers.size} peer${this.peers.size === 1 ? '' : 's'})`, {
      event: 'peer-connected',
      peer: link.label,
      user: peer.user,
      role: peer.role,
      door,
      peers: this.peers.size,
    });
    this.notify('peerJoined', peer, this.peers.size);
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
    // Its live output is held until the screen (or byte tail) as of this moment is ready.
    peer.hold();
    this.replay.snapshot((first) => peer.release(first));
    if (!this.link) peer.notice(`device ${this.deviceUri} is down; waiting for it`);
    if (peer.following) this.notices.follow(peer);
    this.notices.announce(peer);
  }

  /** Whether ?max-peers is reached: peers of every door and API callers that wait hold a place each. */
  private full(): boolean {
    return this.peers.size + this.apiWaits >= this.settings['max-peers'];
  }

  /**
   * An API caller's wait holds resources (a request, a timer) as a peer does: thousands of
   * them must not get in where thousands of peers cannot.
   */
  holdForApi(label: string): { release(): void } | { max: number } {
    if (this.full()) {
      this.refused(label, 'api');
      return { max: this.settings['max-peers'] };
    }
    this.apiWaits++;
    let held = true;
    return {
      release: () => {
        if (held) this.apiWaits--;
        held = false;
      },
    };
  }

  /**
   * One host opening thousands of connections must not make the others wait: past
   * ?max-peers the link is closed at once, and the refusals are said at most once a second.
   */
  private refuse(link: PeerLink, door: string): void {
    link.stream.on('error', () => {});
    link.stream.destroy();
    this.refused(link.label, door);
  }

  private refused(label: string, door: string): void {
    this.refusals.count++;
    const now = Date.now();
    if (now - this.refusals.saidAt < 1000) return;
    const more = this.refusals.count - 1;
    this.refusals = { count: 0, saidAt: now };
    const max = this.settings['max-peers'];
    this.log.warn(`${label}: refused, the console has ${max} peers (?max-peers=${max})${more ? `; ${more} more refused since the last such line` : ''}`, {
      event: 'peer-refused',
      peer: label,
      door,
      max,
      more,
    });
  }

  /** `~w`, `~s`, the page's button: the keyboard moves, the transcript says who took it from whom. */
  private request(peer: Peer, what: 'take' | 'release'): void {
    const before = this.keyboard.request(peer, what);
    if (before === undefined) {
      if (!this.keyboard.mayType(peer)) peer.notice(this.keyboard.policy === 'readonly' ? 'read-only console' : 'read-only: you may watch, not type');
      return;
    }
    const text = what === 'release' ? `${peer.who} let go of the keyboard` : `${peer.who} took the keyboard${before ? ` from ${before.who}` : ''}`;
    this.log.info(text, { event: 'keyboard', peer: peer.link.label, user: peer.user, request: what });
    this.notify('keyboard', text);
    this.notices.announce(peer);
  }

  private leave(peer: Peer): void {
    if (peer.left) return;
    peer.left = true;
    this.notify('peerLeft', peer);
    const next = this.keyboard.left(peer);
    this.peers.delete(peer);
    this.notices.forget(peer);
    const left = `${peer.label} left${peer.dropped ? ' (dropped)' : ''}: ${peer.out} bytes to it, ${peer.in} bytes from it`;
    const fields = {
      event: 'peer-left',
      peer: peer.link.label,
      user: peer.user,
      dropped: peer.dropped,
      bytes_out: peer.out,
      bytes_in: peer.in,
      bytes_refused: peer.refused,
    };
    if (peer.refused) {
      // Input that never reached the device is worth a warning at any verbosity, with why.
      const why = [
        peer.refused > peer.refusedWhileDown &&
          `${peer.refused - peer.refusedWhileDown} ${peer.role === 'view' ? 'as a viewer' : `by policy ${this.settings.policy}`}`,
        peer.refusedWhileDown && `${peer.refusedWhileDown} while the device was down`,
      ].filter(Boolean);
      this.log.warn(`${left}, ${peer.refused} refused (${why.join(', ')})`, fields);
    } else this.log.info(left, fields);
    // While the hub closes, every peer leaves: the keyboard has nowhere to go.
    if (this.closing) return;
    if (next) {
      this.log.info(`${next.label} now has the console (exclusive)`);
      this.notify('keyboard', `${next.who} has the keyboard (${peer.who} left)`);
    }
    this.notices.announce();
  }

  /** Whether the peer's input reaches the device now; under `exclusive` a keyboard nobody holds is taken by typing. */
  private mayWrite(peer: Peer): boolean {
    if (this.keyboard.policy === 'exclusive' && !this.keyboard.holder && this.keyboard.mayType(peer)) this.request(peer, 'take');
    return this.keyboard.mayWrite(peer);
  }

  /** Peer input, merged into the device in arrival order, chunk by chunk. */
  private input(peer: Peer, chunk: Buffer): void {
    peer.in += chunk.length;
    if (!this.mayWrite(peer)) {
      peer.refused += chunk.length;
      this.notify('peerRefused', peer, chunk.length);
      // Told once, in a line; a page already shows it in its badge.
      if (!peer.toldReadOnly && !peer.following) {
        peer.toldReadOnly = true;
        const holder = this.keyboard.holder;
        peer.notice(
          this.keyboard.policy === 'readonly'
            ? 'read-only console'
            : peer.role === 'view'
              ? 'read-only: you may watch, not type'
              : `read-only: ${holder?.user ?? 'another peer'} has the console`,
        );
      }
      return;
    }
    const link = this.link;
    if (!link || link.stream.destroyed) {
      // Keystrokes for a device that is gone would arrive as stale input when it returns.
      peer.refused += chunk.length;
      peer.refusedWhileDown += chunk.length;
      this.notify('peerRefused', peer, chunk.length);
      return;
    }
    this.notify('peerInput', peer, chunk, link.label);
    if (!link.stream.write(chunk)) this.pauseInput();
  }

  private control(peer: Peer, c: Control): void {
    if (c.type === 'take' || c.type === 'release') return this.request(peer, c.type);
    if (c.type === 'mark') return this.mark(peer, c.label);
    if (c.type === 'keyboard') {
      if (c.state || !peer.link.tell) return;
      // Answered with the tick's other notices: a flood of requests gets one answer a tick.
      peer.following = true;
      this.notices.follow(peer);
      return this.notices.announce(peer);
    }
    // Reading the modem lines (a modem control that changes nothing) is watching, not typing.
    const readOnly = c.type === 'modem' && c.modem.dtr === undefined && c.modem.rts === undefined;
    if (!this.link) {
      if (c.type === 'line' || c.type === 'modem') c.reply?.(undefined);
      return;
    }
    if (!readOnly && !this.keyboard.mayWrite(peer)) {
      // A refused change is answered with what the device really has (an RFC 2217 client
      // was told that its refused baud or DTR was in force): ask it, changing nothing.
      if (c.type === 'line') applyControl(this.link, { type: 'line', line: {}, reply: c.reply }, this.log);
      else if (c.type === 'modem') applyControl(this.link, { type: 'modem', modem: {}, reply: c.reply }, this.log);
      return;
    }
    // The model follows the device's size: output after a resize is drawn for the new one.
    if (c.type === 'resize' && this.link.resize) {
      this.replay.resize(c.cols, c.rows);
      this.notify('resized', c.cols, c.rows);
    }
    applyControl(this.link, c, this.log);
  }

  /**
   * `~m`, the page's button: a mark in the history, said in the log. Watching is enough: a
   * mark changes no byte the device or a peer sees.
   */
  private mark(peer: Peer, label: string | undefined): void {
    const text =
      (label ?? '')
        .replace(/[\x00-\x1f\x7f]/g, ' ')
        .trim()
        .slice(0, 200) || 'mark';
    this.log.info(`${peer.label} marked the history: ${text}`, { event: 'mark', peer: peer.link.label, user: peer.user, label: text });
    this.notify('marked', peer, text);
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

  /**
   * The device went away: tell the peers, keep them, and reopen it with backoff — unless it
   * cannot come back as the same device: then say why, once, and end the route.
   */
  private lost(link: DeviceLink, reason: string, failed = false): void {
    if (this.link !== link) return;
    this.link = undefined;
    link.stream.destroy();
    this.resumeInput();
    if (this.closing) return;
    const never = link.reopen && 'never' in link.reopen ? link.reopen.never : undefined;
    if (never !== undefined) {
      this.log.warn(`${link.label} lost: ${reason}; not reopened: ${never}`, { event: 'device-gone', device: link.label, reason });
      this.notify('deviceDown', link.label, reason, true);
      for (const p of this.peers) p.notice(`device ${this.deviceUri} lost: ${reason}; it will not come back`);
      this.onGone(failed);
      return;
    }
    if (Date.now() - this.openedAt >= MAX_DELAY_MS) this.nextDelay = FIRST_DELAY_MS;
    this.log.warn(`${link.label} lost: ${reason}; reopening`, { event: 'device-lost', device: link.label, reason });
    this.notify('deviceDown', link.label, reason, false);
    for (const p of this.peers) p.notice(`device ${this.deviceUri} lost: ${reason}; reopening`);
    this.reopening = this.reopen(link.reopen && 'ready' in link.reopen ? link.reopen.ready : undefined);
  }

  /**
   * Tries to open the device again with backoff; `ready` says when not to try yet (and why);
   * `lastError` was already reported.
   */
  private async reopen(ready?: () => Promise<string | undefined>, lastError = ''): Promise<void> {
    const signal = this.reopenAbort.signal;
    while (!signal.aborted) {
      try {
        await sleep(this.nextDelay, undefined, { signal });
      } catch {
        return;
      }
      this.nextDelay = Math.min(this.nextDelay * 2, MAX_DELAY_MS);
      let link: DeviceLink;
      try {
        const wait = await ready?.();
        if (wait !== undefined) throw new Error(wait);
        link = await this.open();
      } catch (err) {
        const why = (err as Error).message;
        if (why !== lastError) this.log.info(`reopening ${this.deviceUri}: ${why}`, { event: 'device-reopen-failed', reason: why });
        lastError = why;
        continue;
      }
      if (signal.aborted) {
        link.stream.destroy();
        return;
      }
      const back = this.everOpen ? 'is back' : 'is up';
      this.attach(link, true);
      this.log.warn(`${link.label} ${back}`, { event: back === 'is back' ? 'device-back' : 'device-up', device: link.label });
      for (const p of this.peers) p.notice(`device ${this.deviceUri} ${back}`);
      return;
    }
  }

  /** Closes every peer (after flushing what they are owed) and the device. */
  async close(): Promise<void> {
    this.closing = true;
    this.notices.stop();
    this.notify('closing', this.peers);
    this.reopenAbort.abort();
    await this.reopening;
    await Promise.all([...this.peers].map((p) => p.close()));
    this.replay?.dispose();
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

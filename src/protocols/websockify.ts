// A WebSocket as a Link stream, speaking websockify's framing: binary, base64, or plain frames plus JSON controls.
import { Duplex } from 'node:stream';
import type WebSocket from 'ws';
import type { Control } from '../core/link.js';
import type { Logger } from '../log.js';
import { ackMessage, breakMessage, creditMessage, flowMessage, keyboardAsk, keyboardState, markMessage, resizeMessage } from '../core/control-protocol.js';
import { givesChunksBack, releaseChunk } from '../core/read-pool.js';
import { CreditWindow } from '../core/credit-window.js';
import { sendBinary } from './ws-frame.js';

/**
 * How bytes travel in frames. `binary` and `base64` are websockify's subprotocols (noVNC
 * and other websockify clients ask for them); `plain` is what a client gets that asked for
 * neither: bytes in binary frames, and JSON controls (resize) in text frames.
 */
export type Framing = 'binary' | 'base64' | 'plain';

/** The subprotocols a ws-listen server accepts, in the order it prefers them. */
export const SUBPROTOCOLS = ['binary', 'base64'] as const;

/** Picks the subprotocol to answer from the ones a client offered; undefined for none. */
export function chooseSubprotocol(offered: Set<string>): string | undefined {
  return SUBPROTOCOLS.find((p) => offered.has(p));
}

/** The framing that follows from the negotiated subprotocol ('' when none). */
export function framingOf(protocol: string): Framing {
  return protocol === 'binary' || protocol === 'base64' ? protocol : 'plain';
}

/**
 * A ws: client says with this header which JSON messages it understands besides resize
 * (`keyboard`: a hub's keyboard state). A server that does not know it ignores it, where an
 * unknown JSON message would be closed with 1003; a page, which cannot set headers, asks
 * with `{"type":"keyboard"}` instead.
 */
export const CONTROLS_HEADER = 'x-ptybridge-controls';

/** WebSocket close codes used for a peer's bad input (RFC 6455 §7.4.1). */
export const CLOSE = { normal: 1000, unsupported: 1003, invalidPayload: 1007, policy: 1008, tooBig: 1009 } as const;

/**
 * Control messages a peer may send per second, and in a burst: a page sends a few (its
 * size while a window is dragged, a keyboard request). Past the allowance they are dropped
 * (but the latest size), and a peer that goes on sending CONTROL_BURST more is closed: ws
 * parses what it has read even while the socket is paused, so only closing ends a flood.
 */
const CONTROLS_PER_SECOND = 100;
const CONTROL_BURST = 200;
/** How long the socket is not read once the allowance is spent (it refills by 10 meanwhile). */
const CONTROL_PAUSE_MS = 100;
/**
 * What may wait for the peer in ws's own queue (data frames, control answers, pongs) before
 * its input is no longer read: a peer that asks without reading the answers stops being heard.
 */
const OWED_LIMIT = 256 * 1024;
/** How often a peer whose input waits is looked at again (ws tells no drain). */
const OWED_POLL_MS = 50;

/** What may wait in a peer's stream (a page with a window: a quarter of it, at most this). */
const WRITABLE_HIGH_WATER = 256 * 1024;

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * The page's flow control: it stops this stream's output (`pause`) or lets it go on
 * (`resume`); or it announces a window of unacknowledged output (`credit`) and acknowledges
 * what it parsed (`ack`).
 */
export type FlowControl = { type: 'pause' | 'resume' } | { type: 'credit'; window: number } | { type: 'ack'; bytes: number };

function isFlow(c: Control | FlowControl): c is FlowControl {
  return c.type === 'pause' || c.type === 'resume' || c.type === 'credit' || c.type === 'ack';
}

/** Parses a control text frame (src/core/control-protocol.ts); returns a reason string when it is malformed. */
export function parseControl(text: string): Control | FlowControl | string {
  let msg: unknown;
  try {
    msg = JSON.parse(text);
  } catch {
    return 'malformed control message (not JSON)';
  }
  if (typeof msg !== 'object' || msg === null) return 'malformed control message (not an object)';
  const type = (msg as { type?: unknown }).type;
  if (type === 'resize') {
    const m = resizeMessage.safeParse(msg);
    return m.success ? { type: 'resize', cols: m.data.cols, rows: m.data.rows } : 'malformed resize (cols and rows must be integers 1-10000)';
  }
  if (type === 'break') {
    const m = breakMessage.safeParse(msg);
    return m.success ? { type: 'break', ms: m.data.ms } : 'malformed break (ms must be 0-10000)';
  }
  if (type === 'take' || type === 'release') return { type };
  if (type === 'mark') {
    const m = markMessage.safeParse(msg);
    if (!m.success) return 'malformed mark (label: text of at most 200 characters)';
    return m.data.label === undefined ? { type: 'mark' } : { type: 'mark', label: m.data.label };
  }
  if (type === 'pause' || type === 'resume') return flowMessage.safeParse(msg).success ? { type } : `malformed ${type} (nothing but its type)`;
  if (type === 'credit') {
    const m = creditMessage.safeParse(msg);
    return m.success ? { type, window: m.data.window } : 'malformed credit (window: an integer of bytes, 16384-67108864)';
  }
  if (type === 'ack') {
    const m = ackMessage.safeParse(msg);
    return m.success ? { type, bytes: m.data.bytes } : 'malformed ack (bytes: a positive integer)';
  }
  if (type === 'keyboard') {
    if (keyboardAsk.safeParse(msg).success) return { type: 'keyboard' };
    // The hub's keyboard state, as a ws: client reads it from a ptybridge server.
    const m = keyboardState.safeParse(msg);
    if (m.success) return { type: 'keyboard', state: m.data };
    const who = m.error.issues.some((i) => i.path[0] === 'you' || i.path[0] === 'policy');
    return who ? 'malformed keyboard state (you, policy)' : 'malformed keyboard state (watching, peers, holder, name)';
  }
  return `unknown control type ${JSON.stringify(type)}`;
}

export interface WsStreamOptions {
  framing: Framing;
  label: string;
  log: Logger;
}

/**
 * Wraps an open WebSocket in a Duplex with backpressure both ways: the socket is paused
 * while the readable buffer is full, and a frame that the kernel did not take at once holds
 * the next write until it has (see send). WebSocket has no half-close: `end()` only says
 * that nothing more will be sent, `destroy()` sends the close frame; a close from the peer
 * ends the readable side and finishes the writable side.
 */
export class WsStream extends Duplex {
  private waiting: (() => void) | undefined;
  private peerGone = false;
  /** Set once the peer asked for keyboard states (`{"type":"keyboard"}`): only then are they sent to it. */
  askedKeyboard = false;
  /** Controls that came before anyone listened (a link not yet joined): handed over to the first listener. */
  private earlyControls: Control[] = [];
  /** Control messages the peer may still send now (a token bucket refilled over time). */
  private allowance = CONTROL_BURST;
  private refilledAt = Date.now();
  /** Control messages dropped in a row past the allowance. */
  private overdrawn = 0;
  /** A resize that came past the allowance: the page's latest size must still reach the device. */
  private lateResize: Control | undefined;
  /** The page said `pause`: what is written here waits (in this stream's buffer) until it says `resume`. */
  private flowPaused = false;
  /** The write that came while paused (or the part of it past the window): sent on `resume` (or an ack), dropped if the peer goes. */
  private pausedWrite: { chunk: Buffer | Buffer[]; cb: (err?: Error | null) => void } | undefined;
  /** Output bytes sent on this socket: a window announced later counts them as unacknowledged. */
  private sentBytes = 0;
  /** The page's window of unacknowledged output, once it announced one (src/core/credit-window.ts). */
  private credit: CreditWindow | undefined;
  /** The most output ever sent and unacknowledged at once (said when the socket closes: the window held). */
  private peakInFlight = 0;
  /** Why the peer's input is not read now: the reader is full, it owes us a drain, it sent too many controls. */
  private readonly holds = new Set<'reader' | 'owed' | 'controls'>();

  constructor(
    readonly ws: WebSocket,
    private readonly opts: WsStreamOptions,
  ) {
    super({ allowHalfOpen: true, readableHighWaterMark: 256 * 1024, writableHighWaterMark: WRITABLE_HIGH_WATER });
    givesChunksBack(this);
    this.on('newListener', (event: string) => {
      if (event !== 'control' || !this.earlyControls.length) return;
      const held = this.earlyControls;
      this.earlyControls = [];
      queueMicrotask(() => held.forEach((c) => this.emit('control', c)));
    });
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      this.onMessage(data, isBinary);
      this.checkOwed();
    });
    // ws answers each ping with a pong by itself: pings sent without reading are owed too.
    ws.on('ping', () => this.checkOwed());
    ws.on('error', (err: Error & { code?: string }) => {
      // ws has already answered with the close code (1009 too big, 1007 bad UTF-8, 1002 protocol).
      opts.log.warn(`${opts.label}: ${err.message}${err.code ? ` (${err.code})` : ''}; closing`);
    });
    ws.once('close', (code: number, reason: Buffer) => {
      this.peerGone = true;
      const credit = this.credit ? `; at most ${this.peakInFlight} bytes of output unacknowledged (window ${this.credit.window})` : '';
      opts.log.debug(`${opts.label}: websocket closed (${code}${reason.length ? ` ${reason.toString()}` : ''})${credit}`);
      this.push(null);
      this.releaseWriter();
      this.dropPausedWrite();
      // The peer is gone: what is still queued for it is dropped, and the write side
      // finishes so that the join can end once the other direction has drained.
      if (!this.writableEnded) this.end();
    });
  }

  /** Closes the connection with a code and reason after a peer's bad input; logs why. */
  refuse(code: number, reason: string): void {
    this.opts.log.warn(`${this.opts.label}: ${reason}; closing with ${code}`);
    this.ws.close(code, reason.slice(0, 120));
  }

  /** Sends a control to the peer as a JSON text frame; only plain framing carries them. */
  sendControl(c: object): void {
    if (this.opts.framing === 'plain' && !this.peerGone) this.ws.send(JSON.stringify(c));
  }

  /** Stops reading the peer for `why`; reading goes on once no reason is left. */
  private hold(why: 'reader' | 'owed' | 'controls'): void {
    this.holds.add(why);
    if (!this.ws.isPaused) this.ws.pause();
  }

  private unhold(why: 'reader' | 'owed' | 'controls'): void {
    if (!this.holds.delete(why) || this.holds.size || this.peerGone) return;
    if (this.ws.isPaused) this.ws.resume();
  }

  /** A peer that lets answers pile up (pongs, controls, output) is not read until they are taken. */
  private checkOwed(): void {
    // Output within a page's window is owed by design (the window bounds it): only what is
    // queued past it counts, or the page's acks would go unread while its window is in flight.
    const limit = OWED_LIMIT + (this.credit?.window ?? 0);
    if (this.holds.has('owed') || this.peerGone || this.ws.bufferedAmount <= limit) return;
    this.hold('owed');
    const timer = setInterval(() => {
      if (!this.peerGone && this.ws.bufferedAmount > OWED_LIMIT + (this.credit?.window ?? 0)) return;
      clearInterval(timer);
      this.unhold('owed');
    }, OWED_POLL_MS);
    timer.unref();
  }

  /** Takes one control message from the peer's allowance; false when it is spent (the socket then waits for more). */
  private allowControl(): boolean {
    const now = Date.now();
    this.allowance = Math.min(CONTROL_BURST, this.allowance + ((now - this.refilledAt) * CONTROLS_PER_SECOND) / 1000);
    this.refilledAt = now;
    if (this.allowance >= 1) {
      this.allowance--;
      this.overdrawn = 0;
      return true;
    }
    if (++this.overdrawn > CONTROL_BURST) {
      this.refuse(CLOSE.policy, `more than ${CONTROLS_PER_SECOND} control messages a second`);
      return false;
    }
    if (!this.holds.has('controls')) {
      this.hold('controls');
      setTimeout(() => {
        const resize = this.lateResize;
        this.lateResize = undefined;
        if (resize && !this.peerGone) this.emitControl(resize);
        this.unhold('controls');
      }, CONTROL_PAUSE_MS).unref();
    }
    return false;
  }

  private emitControl(c: Control): void {
    if (c.type === 'keyboard' && !c.state) this.askedKeyboard = true;
    if (this.listenerCount('control') > 0) this.emit('control', c);
    else if (this.earlyControls.push(c) > 64) this.earlyControls.shift(); // bounded: the latest count
  }

  private onMessage(data: Buffer, isBinary: boolean): void {
    if (this.peerGone || this.readableEnded || this.ws.readyState !== this.ws.OPEN) return;
    let bytes: Buffer;
    if (isBinary || this.opts.framing === 'binary') {
      bytes = data;
    } else if (this.opts.framing === 'base64') {
      const text = data.toString('latin1').replace(/\s+/g, '');
      if (!BASE64.test(text)) return this.refuse(CLOSE.invalidPayload, 'text frame is not base64 (subprotocol base64)');
      bytes = Buffer.from(text, 'base64');
    } else {
      const c = parseControl(data.toString('utf8'));
      if (typeof c === 'string') return this.refuse(c.startsWith('unknown') ? CLOSE.unsupported : CLOSE.invalidPayload, c);
      // Not counted against the control allowance: a page under a flood says pause and resume
      // hundreds of times a second, and a resume dropped there would hang it. Each is a flag set.
      if (isFlow(c)) return this.onFlow(c);
      // Frames ws had already read when the socket paused still come: past the allowance they
      // are dropped, except the latest size, which is applied when the pause ends.
      if (!this.allowControl()) {
        if (c.type === 'resize') this.lateResize = c;
        return;
      }
      this.emitControl(c);
      return;
    }
    if (bytes.length && !this.push(bytes)) this.hold('reader');
  }

  override _read(): void {
    this.unhold('reader');
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.send(chunk, cb);
  }

  /** What was written while a frame was waiting for the kernel leaves as one frame: fewer headers, writes and wakeups. */
  override _writev(chunks: { chunk: Buffer }[], cb: (err?: Error | null) => void): void {
    if (chunks.length === 1) return this.send(chunks[0]!.chunk, cb);
    // Binary: one frame whose payload is the chunks as they are (no copy into one buffer).
    if (this.opts.framing !== 'base64')
      return this.send(
        chunks.map((c) => c.chunk),
        cb,
      );
    const joined = Buffer.concat(chunks.map((c) => c.chunk));
    for (const c of chunks) releaseChunk(c.chunk);
    this.send(joined, cb);
  }

  /**
   * One frame. If the kernel took all of it at once, the next write goes out as soon as it
   * comes (a keystroke's echo is never held back). If not (a slow or busy peer), the next
   * write waits until it has: meanwhile what the source reads piles up in this stream's
   * buffer and leaves as one frame (_writev) instead of one frame and one syscall per read,
   * and the buffer's length is what the hub's peer-queue limit sees.
   */
  private send(chunks: Buffer | Buffer[], cb: (err?: Error | null) => void): void {
    if (this.peerGone || this.ws.readyState !== this.ws.OPEN) return cb(); // the peer left: dropped
    // Paused by the page: the write is not finished, so what follows piles up in this stream's
    // buffer, where a pipe's backpressure, a session's pacing and the hub's peer-queue see it.
    if (this.flowPaused) return void (this.pausedWrite = { chunk: chunks, cb });
    // Without a window the chunks leave as they are, in one frame (ws-frame.ts). A window comes
    // only as a control, so only with plain framing: an array is always sent binary (frame()).
    if (!this.credit) return this.frame(chunks, true, cb);
    const list = Array.isArray(chunks) ? chunks : [chunks];
    const room = this.credit.room;
    if (room === 0) return void (this.pausedWrite = { chunk: chunks, cb });
    let total = 0;
    for (const c of list) total += c.length;
    if (room >= total) return this.frame(chunks, true, cb);
    // What fits the window leaves now, as views of the chunks (no copy into one buffer: that
    // copy was most of a flood's Buffer.concat time); the rest waits for the page's ack (as a
    // pause). The chunks sent whole are given back once sent. The one cut at the window's edge
    // is never given back to the read pool (releasing its rest, a view, changes nothing): its
    // buffer is left to the garbage collector, so it is never reused while a part still waits.
    let i = 0;
    let fits = 0;
    while (fits + list[i]!.length <= room) fits += list[i++]!.length;
    const cut = list[i]!;
    const now = list.slice(0, i);
    if (room > fits) now.push(cut.subarray(0, room - fits));
    // Released once sent: the whole chunks go back to the pool, the view of the cut one is no lent chunk.
    this.frame(now, true, () => {});
    this.pausedWrite = { chunk: [room > fits ? cut.subarray(room - fits) : cut, ...list.slice(i + 1)], cb };
  }

  /** Sends one frame (counted against the window); `cb` at once if the kernel took it, else once it has. */
  private frame(chunk: Buffer | Buffer[], release: boolean, cb: (err?: Error | null) => void): void {
    let held = false;
    const onSent = () => {
      // ws calls back once the kernel has the frame: the chunk is no longer referenced, so a
      // pooled read buffer may be reused (read-pool.ts).
      if (release) {
        if (Array.isArray(chunk)) chunk.forEach(releaseChunk);
        else releaseChunk(chunk);
      }
      if (held) this.releaseWriter();
    };
    const length = Array.isArray(chunk) ? chunk.reduce((n, c) => n + c.length, 0) : chunk.length;
    this.sentBytes += length;
    if (this.credit) {
      this.credit.sent(length);
      this.peakInFlight = Math.max(this.peakInFlight, this.credit.inFlight);
    }
    if (Array.isArray(chunk)) sendBinary(this.ws, chunk, onSent);
    else if (this.opts.framing === 'base64') this.ws.send(chunk.toString('base64'), { binary: false }, onSent);
    else sendBinary(this.ws, [chunk], onSent);
    // ws's callback never comes synchronously, so `held` is set before onSent can read it.
    if (this.ws.bufferedAmount === 0) return cb();
    held = true;
    this.waiting = cb;
  }

  private releaseWriter(): void {
    const w = this.waiting;
    this.waiting = undefined;
    w?.();
  }

  /** The peer is gone (or the stream destroyed): a write held by its pause is dropped. */
  private dropPausedWrite(): void {
    const p = this.pausedWrite;
    this.pausedWrite = undefined;
    p?.cb();
  }

  /** The page's flow control: pause, resume, its window, an ack. */
  private onFlow(c: FlowControl): void {
    if (c.type === 'pause' || c.type === 'resume') return this.setFlow(c.type === 'pause');
    if (c.type === 'credit') {
      // Everything sent on this socket so far is unacknowledged (the page counts it all); a
      // second announcement changes the window, not the count.
      this.credit = new CreditWindow(c.window, this.credit?.inFlight ?? this.sentBytes);
      // What waits here beyond the window is what a key's echo waits behind too: a quarter of
      // the window is enough to refill it at each ack; past it the shell is not read (and blocks).
      const state = (this as unknown as { _writableState?: { highWaterMark: number } })._writableState;
      if (state) state.highWaterMark = Math.min(WRITABLE_HIGH_WATER, Math.ceil(c.window / 4));
      this.opts.log.debug(`${this.opts.label}: the page acknowledges its output, window ${c.window} bytes`);
    } else if (c.type === 'ack' && this.credit) this.credit.acked(c.bytes);
    else return; // an ack without a window: nothing is counted against it
    this.sendHeld();
  }

  /** The page's `pause` (true) or `resume` (false); a repeated one changes nothing. */
  private setFlow(paused: boolean): void {
    if (paused === this.flowPaused) return;
    this.flowPaused = paused;
    this.opts.log.debug(`${this.opts.label}: the page says ${paused ? 'pause' : 'resume'}`);
    if (!paused) this.sendHeld();
  }

  /** The write held by a pause or a full window goes on, if neither holds it now. */
  private sendHeld(): void {
    const p = this.pausedWrite;
    if (!p || this.flowPaused || this.credit?.room === 0) return;
    this.pausedWrite = undefined;
    this.send(p.chunk, p.cb);
  }

  override _final(cb: (err?: Error | null) => void): void {
    // WebSocket has no half-close: closing here would cut off the peer's answer to what we
    // sent last (a piped request). Whoever ends the link destroys it, which sends the close.
    cb();
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    if (!this.peerGone) {
      if (this.ws.readyState === this.ws.OPEN) this.ws.close(CLOSE.normal);
      // A peer that does not answer the close frame is cut off rather than waited for.
      const t = setTimeout(() => this.ws.terminate(), 2000);
      t.unref();
    }
    this.releaseWriter();
    this.dropPausedWrite();
    cb(err);
  }
}

/**
 * Pings the peer every `ms` and cuts it off when no pong (or any message) came back in
 * between: a browser on a phone that lost its network leaves no other trace.
 */
export function keepAlive(ws: WebSocket, ms: number, onDead: () => void): void {
  if (ms <= 0) return;
  let alive = true;
  const mark = () => (alive = true);
  ws.on('pong', mark);
  ws.on('message', mark);
  const tick = () => {
    if (!alive) {
      unwatch(ms, tick);
      onDead();
      ws.terminate();
      return;
    }
    alive = false;
    if (ws.readyState === ws.OPEN) ws.ping();
  };
  watch(ms, tick);
  ws.once('close', () => unwatch(ms, tick));
}

/**
 * One timer per ping interval for all sockets, not one each: a thousand idle peers then wake
 * the process once a round, not a thousand times (bench/results-scale.md, idle CPU). A peer
 * that joins mid-round gets its first ping sooner than `ms`, never later than it.
 */
const rounds = new Map<number, { timer: NodeJS.Timeout; ticks: Set<() => void> }>();

function watch(ms: number, tick: () => void): void {
  let round = rounds.get(ms);
  if (!round) {
    const ticks = new Set<() => void>();
    const timer = setInterval(() => {
      for (const t of ticks) t();
    }, ms);
    timer.unref();
    round = { timer, ticks };
    rounds.set(ms, round);
  }
  round.ticks.add(tick);
}

function unwatch(ms: number, tick: () => void): void {
  const round = rounds.get(ms);
  if (!round?.ticks.delete(tick) || round.ticks.size > 0) return;
  clearInterval(round.timer);
  rounds.delete(ms);
}

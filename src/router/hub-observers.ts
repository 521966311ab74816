// What watches a hub without being part of it: the transcript, the input log, the metrics counters and the hex trace.
import type { Logger } from '../log.js';
import { registerConsole, type ConsoleCounters, type ConsoleSnapshot } from './consoles.js';
import { InputLog } from './input-log.js';
import type { Peer } from './peer.js';
import type { Transcript } from './transcript.js';
import { formatTrace } from './trace.js';

/**
 * The events a hub tells its observers, in the order they happen. Every member is optional:
 * an observer listens only to what it records. Observers never change what the hub does;
 * the hub calls them synchronously, before it acts on the same event (device output reaches
 * the transcript before any peer).
 */
export interface HubObserver {
  /** The device is open: for the first time (`again` false) or after a loss; `retried`: opened by the backoff loop. */
  deviceUp?(label: string, how: { again: boolean; retried: boolean }): void;
  /** The device could not be opened at start and is waited for. */
  deviceWaiting?(uri: string, why: string): void;
  /** The device went away; `final` when it will not be reopened. */
  deviceDown?(label: string, reason: string, final: boolean): void;
  /** A chunk the device sent, before it goes to the peers. */
  deviceOutput?(chunk: Buffer, label: string): void;
  /** A peer's input that reaches the device (after the policy let it through). */
  peerInput?(peer: Peer, chunk: Buffer, label: string): void;
  /** A peer's input that did not: refused by the policy or role, or the device was down. */
  peerRefused?(peer: Peer, bytes: number): void;
  peerJoined?(peer: Peer, peers: number): void;
  /** A peer is gone: it left, or was dropped for not reading (`peer.dropped`). */
  peerLeft?(peer: Peer): void;
  /** A peer was dropped because its queue passed ?peer-queue (peerLeft follows). */
  peerDropped?(peer: Peer, queued: number): void;
  /** A peer that may resize the device did: output after this is drawn at this size. */
  resized?(cols: number, rows: number): void;
  /** A peer marked this moment (`~m`, the page's button). */
  marked?(peer: Peer, label: string): void;
  /** The keyboard moved (taken, let go, handed on): the sentence that says so. */
  keyboard?(text: string): void;
  /** The hub is closing: whatever an observer holds is written now. */
  closing?(peers: Iterable<Peer>): void;
}

/** The transcript (--log): the device's output and the hub's events, as before they were observers. */
export function transcriptObserver(transcript: Transcript): HubObserver {
  const plural = (n: number) => `${n} peer${n === 1 ? '' : 's'}`;
  return {
    deviceUp: (label, { again }) => transcript.event(`device ${label} ${again ? 'reopened' : 'attached'}`),
    deviceWaiting: (uri, why) => transcript.event(`device ${uri} not there at start: ${why}`),
    deviceDown: (label, reason, final) => transcript.event(`device ${label} lost: ${reason}${final ? '; not reopened' : ''}`),
    deviceOutput: (chunk) => transcript.data(chunk),
    peerJoined: (peer, peers) => transcript.event(`${peer.label} connected${peer.role === 'view' ? ', read-only' : ''} (${plural(peers)})`),
    peerLeft: (peer) => transcript.event(`${peer.label} left${peer.dropped ? ' (dropped, not reading)' : ''}`),
    keyboard: (text) => transcript.event(text),
    marked: (peer, label) => transcript.event(`${peer.who} marked: ${label}`),
  };
}

/** ?log-input: what each peer typed, attributed, in the transcript (else on stderr). */
export function inputLogObserver(transcript: Transcript | undefined, log: Logger): HubObserver {
  const inputLog = new InputLog(transcript ? (line) => transcript.event(line) : (line) => log.warn(line));
  return {
    peerInput: (peer, chunk) => inputLog.typed(peer, chunk),
    peerLeft: (peer) => inputLog.flush(peer),
    closing: (peers) => {
      for (const p of peers) inputLog.flush(p);
    },
  };
}

/** -x: every chunk both ways, hex, to stderr. */
export function traceObserver(trace: (text: string) => void): HubObserver {
  return {
    deviceOutput: (chunk, label) => trace(formatTrace(`${label} > peers`, chunk)),
    peerInput: (peer, chunk, label) => trace(formatTrace(`${peer.label} > ${label}`, chunk, '<')),
  };
}

/**
 * --metrics and /api/consoles: the console's counters, kept here, and its state as the hub
 * shows it (`state`), read only at a scrape. The console leaves the list when the hub closes.
 */
export function metricsObserver(state: () => Omit<ConsoleSnapshot, 'counters'>): HubObserver & { stop(): void } {
  const counters: ConsoleCounters = { reopens: 0, fromDevice: 0, toDevice: 0, dropped: 0, refused: 0 };
  const stop = registerConsole(() => ({ ...state(), counters: { ...counters } }));
  return {
    stop,
    closing: stop,
    deviceUp: (_label, { retried }) => {
      if (retried) counters.reopens++;
    },
    deviceOutput: (chunk) => {
      counters.fromDevice += chunk.length;
    },
    peerInput: (_peer, chunk) => {
      counters.toDevice += chunk.length;
    },
    peerRefused: (_peer, bytes) => {
      counters.refused += bytes;
    },
    peerDropped: () => {
      counters.dropped++;
    },
  };
}

// The link contract: a link is one open duplex byte stream (a device's or a peer's); controls travel between links of different kinds.
import type { Duplex } from 'node:stream';
import type { KeyboardState, Role } from './roles.js';

/** Serial line settings, as RFC 2217 and `serial:` know them. */
export interface LineSettings {
  baud: number;
  dataBits: 5 | 6 | 7 | 8;
  parity: 'none' | 'even' | 'odd' | 'mark' | 'space';
  stopBits: 1 | 1.5 | 2;
  /** Flow control, both directions (RFC 2217 outbound and inbound alike); absent: not known or not asked. */
  flow?: 'none' | 'rtscts' | 'xonxoff';
}

export interface ModemSettings {
  dtr?: boolean;
  rts?: boolean;
  /**
   * The input lines, in a reply only: what the device reports (RFC 2217 NOTIFY-MODEMSTATE).
   * Absent where it cannot tell (a pty has no modem lines; serialport reads no RI). A
   * `modem` control with an empty change is a read: it changes nothing and replies with these.
   */
  cts?: boolean;
  dsr?: boolean;
  dcd?: boolean;
  ri?: boolean;
}

/**
 * A request one link makes of the link it is joined to: a browser's resize for an exec
 * pty, a telnet BREAK for a serial port. Links emit these as `stream.emit('control', c)`;
 * the router applies them to the other side with `applyControl`.
 */
export type Control =
  | { type: 'resize'; cols: number; rows: number }
  | { type: 'break'; ms: number }
  | { type: 'line'; line: Partial<LineSettings>; reply?: (inForce: LineSettings | undefined) => void }
  | { type: 'modem'; modem: ModemSettings; reply?: (inForce: ModemSettings | undefined) => void }
  /** A peer asks for the keyboard (`~w`, the page's button) or lets it go (`~s`), under ?policy=exclusive. */
  | { type: 'take' | 'release' }
  /** A peer marks this moment in the console's history (`~m`, the page's button), with a label. */
  | { type: 'mark'; label?: string }
  /**
   * With a state: the hub tells a peer where the keyboard is (a relay passes it on). Without:
   * a peer asks to be told, now and on every change (the page does, once connected).
   */
  | { type: 'keyboard'; state?: KeyboardState };

/** The part every link has: bytes both ways, and a name for logs. */
export interface ByteStream {
  /** Bytes both ways; `end()` half-closes (shuts the write side) where the kind allows it. */
  readonly stream: Duplex;
  /** For logs: "tcp 127.0.0.1:53122". */
  readonly label: string;
}

/** Controls a link may accept from the link it is joined to (a serial port's line, an exec pty's size). */
export interface Capabilities {
  resize?(cols: number, rows: number): void;
  sendBreak?(ms: number): Promise<void>;
  /** Changes what was given and returns the settings really in force. */
  setLine?(line: Partial<LineSettings>): Promise<LineSettings>;
  setModem?(modem: ModemSettings): Promise<ModemSettings>;
  /** Passes a take/release on to the far side (a ws: client to a ptybridge hub). */
  keyboard?(request: 'take' | 'release'): void;
  /** Passes a mark on to the far side (a ws: client to a ptybridge hub). */
  mark?(label?: string): void;
  /**
   * Shows the keyboard state where there is a way to show it (a page's badge, a terminal's
   * line): a hub's peer, or the interactive stdio a relayed `keyboard` control reaches.
   */
  tell?(state: KeyboardState): void;
}

/** What only a hub's device says about itself. */
export interface DeviceMembers {
  /**
   * The end of this link's output is not the loss of the device, which stays open for what
   * peers send (a file's end, the end of stdin). The text says so in the log, once.
   */
  readonly endIsNotLoss?: string;
  /** Whether the hub may open the device again once it is lost (absent: yes, with backoff). */
  readonly reopen?: Reopen;
}

/** What only a peer (a link a door accepted) carries: who it is, and what it asked for. */
export interface PeerMembers {
  /** The peer's role, from its door (`?readonly`) and its credential (a view token); absent: full. */
  readonly role?: Role;
  /** The peer's name (users file, trusted proxy header), for logs, the transcript and the index. */
  readonly user?: string;
  /** The peer asked for keyboard states from the start (a ws: client's header); else it asks with a control. */
  readonly follows?: boolean;
  /** A browser tab that may resume its own per-peer session after a reload (src/router/sessions.ts). */
  session?: SessionRequest;
}

/** None of `M`'s members: what makes a peer and a device two types tsc tells apart (all else is optional). */
type Without<M> = { readonly [K in keyof M]?: never };

/**
 * A hub's device as the hub sees it, and what every connecting endpoint opens (any of them
 * can be a hub's device; on a pipe or as a fork's upstream its device members go unread).
 */
export type DeviceLink = ByteStream & Capabilities & DeviceMembers & Without<PeerMembers>;
/** A door's peer as the router sees it. */
export type PeerLink = ByteStream & Capabilities & PeerMembers & Without<DeviceMembers>;
/** One end of a join (router/pipe.ts), a device or a peer alike: bytes, and the controls the other end may ask of it. */
export type PipeEnd = ByteStream & Capabilities;
/** Either, where code truly cannot tell which it holds (no place in src/ needs it; tests that keep any link). */
export type Link = DeviceLink | PeerLink;

/** What a ws-listen peer (the page) says about the per-peer session it wants back. */
export interface SessionRequest {
  /** The session id the tab holds ('' for none yet). */
  requested: string;
  /** A digest of the credential the peer presented: a session is resumed only with the same one. */
  owner: string;
  /** Tells the tab the id of the session it now has. */
  assign(id: string): void;
}

/**
 * `never`: what comes back under the device's name is not the same device, or nothing can
 * (a numbered pty, whose number the kernel gives to the next terminal; stdin); the text says
 * why and what to use instead, and the route ends. `ready()`: before each attempt, a reason to
 * wait, or undefined to try (a symlink to a pty is followed only once its owner has re-made it).
 */
export type Reopen = { never: string } | { ready(): Promise<string | undefined> };

/** A bound door, yielding one PeerLink per accepted peer. */
export interface Listener {
  /** For logs and the "listening on" line: "tcp 127.0.0.1:8080". */
  readonly label: string;
  /** Stops accepting and releases the address (removes a unix socket file). */
  close(): Promise<void>;
}

/** A route as a door may show it to its peers (the ws-listen index page), read when asked. */
export interface RouteStatus {
  /** The shared device (hub routes only): its label, whether it is open now or lost, and when it last opened (its last boot, ms). */
  device?: { label: string; open: boolean; since?: number };
  /** Peers connected to the route now. */
  peers: number;
  /** Hub routes: each peer, its name if it has one, and what it is doing, in arrival order. */
  who?: { name?: string; doing: KeyboardState['you'] }[];
}

// The one contract every endpoint type implements: a Link is an open duplex byte stream.
import type { Duplex } from 'node:stream';
import type { z } from 'zod';
import type { Logger } from '../log.js';
import type { KeyboardState, Role } from '../router/roles.js';

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
  /**
   * With a state: the hub tells a peer where the keyboard is (a relay passes it on). Without:
   * a peer asks to be told, now and on every change (the page does, once connected).
   */
  | { type: 'keyboard'; state?: KeyboardState };

/** One open duplex byte stream, plus the controls only some kinds of link have. */
export interface Link {
  /** Bytes both ways; `end()` half-closes (shuts the write side) where the kind allows it. */
  readonly stream: Duplex;
  /** For logs: "tcp 127.0.0.1:53122". */
  readonly label: string;
  resize?(cols: number, rows: number): void;
  sendBreak?(ms: number): Promise<void>;
  /** Changes what was given and returns the settings really in force. */
  setLine?(line: Partial<LineSettings>): Promise<LineSettings>;
  setModem?(modem: ModemSettings): Promise<ModemSettings>;
  /**
   * Shared devices: the end of this link's output is not the loss of the device, which stays
   * open for what peers send (a file's end, the end of stdin). The text says so in the log, once.
   */
  readonly endIsNotLoss?: string;
  /** Shared devices: whether the hub may open the device again once it is lost (absent: yes, with backoff). */
  readonly reopen?: Reopen;
  /** A peer's role, from its door (`?readonly`) and its credential (a view token); absent: full. */
  readonly role?: Role;
  /** A peer's name (users file, trusted proxy header), for logs, the transcript and the index. */
  readonly user?: string;
  /** Shows the keyboard state to a peer that has a way to show it (a page's badge, a terminal's line). */
  tell?(state: KeyboardState): void;
  /** The peer asked for keyboard states from the start (a ws: client's header); else it asks with a control. */
  readonly follows?: boolean;
  /** Passes a take/release on to the far side (a ws: client to a ptybridge hub). */
  keyboard?(request: 'take' | 'release'): void;
  /** A browser tab that may resume its own per-peer session after a reload (src/router/sessions.ts). */
  session?: SessionRequest;
}

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

/** A bound listener, yielding one Link per accepted peer. */
export interface Listener {
  /** For logs and the "listening on" line: "tcp 127.0.0.1:8080". */
  readonly label: string;
  /** Stops accepting and releases the address (removes a unix socket file). */
  close(): Promise<void>;
}

/** A route as a listener may show it to its peers (the ws-listen index page), read when asked. */
export interface RouteStatus {
  /** The shared device (hub routes only): its label and whether it is open now or lost. */
  device?: { label: string; open: boolean };
  /** Peers connected to the route now. */
  peers: number;
  /** Hub routes: each peer, its name if it has one, and what it is doing, in arrival order. */
  who?: { name?: string; doing: KeyboardState['you'] }[];
}

/** What `open`/`listen` get besides their parsed spec. */
export interface OpenContext {
  log: Logger;
  /** Aborted when ptybridge shuts down. */
  signal: AbortSignal;
  /** The route this listener serves: its config name, and its live status. */
  route?: { name?: string; status?: () => RouteStatus };
}

/** A parsed address: what the registry's `parse` returns; parsing never touches the OS. */
export interface Spec<T = unknown, O = Record<string, unknown>> {
  /** The address as the user typed it, for error messages. */
  readonly uri: string;
  /** The canonical scheme (aliases resolved). */
  readonly scheme: string;
  /** The type-specific target (host and port, path, command). */
  readonly target: T;
  /** The options, validated and with defaults filled in. */
  readonly options: O;
}

/**
 * How an endpoint meets a listener, when no option overrides it (DESIGN §3):
 * `device` is opened once and shared by a hub; `per-peer` gets one fresh link per peer.
 */
export type Sharing = 'device' | 'per-peer';

interface EndpointTypeBase<T, S extends z.ZodObject> {
  scheme: string;
  /** Names socat users type (`tcp-l`, `open`). */
  aliases?: string[];
  /** One line for `--help`. */
  summary: string;
  /** The form of the target, for help and errors: "host:port". */
  targetForm: string;
  /** Runnable CLI examples, shown by `--help SCHEME`. */
  examples: string[];
  /** Behaviour worth knowing before use (how it ends, what it drops), shown by `--help SCHEME`. */
  notes?: string[];
  /** Option schema: an object of option schemas built with `src/options.ts`. */
  options: S;
  /**
   * The target is a URL (ws:, ws-listen:'s path): it gets the text as typed, since its %XX
   * belong to the URL; every other type gets its target percent-decoded (src/uri.ts).
   */
  urlTarget?: boolean;
  /** Turns the target text into a typed target; throws UsageError. Touches no OS state. */
  parseTarget(target: string, uri: string): T;
  /** Checks options against each other (`?readonly&writeonly`); throws UsageError. Touches no OS state. */
  validate?(spec: Spec<T, z.output<S>>): void;
}

export interface ConnectingType<T = any, S extends z.ZodObject = z.ZodObject> extends EndpointTypeBase<T, S> {
  role: 'connecting';
  sharing: Sharing;
  /** True for stdio: only one such endpoint can exist per process. */
  exclusiveResource?: string;
  /**
   * Whether, shared by a hub, the device may be absent when the route starts (a VM's console
   * socket while the VM is off): the hub then serves its listeners and connects once it
   * answers, instead of failing the route (one stopped VM must not stop a config of consoles).
   */
  waitsAtStart?(spec: Spec<T, z.output<S>>): boolean;
  /**
   * Shared devices: why one that cannot be opened at start must not be waited for (a
   * numbered pty: what appears later under its name is somebody else's terminal), or
   * undefined to wait for it like a lost device when the route waits (config files).
   */
  neverWaitFor?(spec: Spec<T, z.output<S>>): string | undefined;
  /**
   * What can be known to fail before anything listens (a command that is not there): a
   * per-peer endpoint would otherwise fail only when the first peer comes. Throws UsageError.
   */
  preflight?(spec: Spec<T, z.output<S>>): Promise<void>;
  open(spec: Spec<T, z.output<S>>, ctx: OpenContext): Promise<Link>;
}

export interface ListeningType<T = any, S extends z.ZodObject = z.ZodObject> extends EndpointTypeBase<T, S> {
  role: 'listening';
  listen(spec: Spec<T, z.output<S>>, onLink: (link: Link) => void, ctx: OpenContext): Promise<Listener>;
}

export type EndpointType = ConnectingType | ListeningType;

/** A parsed endpoint address: its type and its validated spec. Touches no OS state. */
export interface Endpoint {
  type: EndpointType;
  spec: Spec;
}

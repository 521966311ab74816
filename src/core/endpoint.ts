// What an endpoint type is: a parsed address (Spec), and how it opens (connecting) or listens (listening).
import type { OptionsOf, OptionsSchema } from './option-schema.js';
import type { Logger } from './logger.js';
import type { ConsoleApi } from './console-api.js';
import type { DeviceLink, Listener, PeerLink, RouteStatus } from './link.js';

/** What `open`/`listen` get besides their parsed spec. */
export interface OpenContext {
  log: Logger;
  /** Aborted when ptybridge shuts down. */
  signal: AbortSignal;
  /** The route this door serves: its config name, and its live status. */
  route?: { name?: string; status?: () => RouteStatus; api?: ConsoleApi };
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
 * How an endpoint meets a door, when no option overrides it (docs/ARCHITECTURE.md):
 * `device` is opened once and shared by a hub; `per-peer` gets one fresh link per peer.
 */
export type Sharing = 'device' | 'per-peer';

interface EndpointTypeBase<T, S extends OptionsSchema> {
  /** Its name; its aliases are in its row of src/endpoints/schemes.ts. */
  scheme: string;
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
  validate?(spec: Spec<T, OptionsOf<S>>): void;
}

export interface ConnectingType<T = unknown, S extends OptionsSchema = OptionsSchema> extends EndpointTypeBase<T, S> {
  role: 'connecting';
  sharing: Sharing;
  /** True for stdio: only one such endpoint can exist per process. */
  exclusiveResource?: string;
  /**
   * Whether, shared by a hub, the device may be absent when the route starts (a VM's console
   * socket while the VM is off): the hub then serves its doors and connects once it
   * answers, instead of failing the route (one stopped VM must not stop a config of consoles).
   */
  waitsAtStart?(spec: Spec<T, OptionsOf<S>>): boolean;
  /**
   * Shared devices: why one that cannot be opened at start must not be waited for (a
   * numbered pty: what appears later under its name is somebody else's terminal), or
   * undefined to wait for it like a lost device when the route waits (config files).
   */
  neverWaitFor?(spec: Spec<T, OptionsOf<S>>): string | undefined;
  /**
   * What can be known to fail before anything listens (a command that is not there): a
   * per-peer endpoint would otherwise fail only when the first peer comes. Throws UsageError.
   */
  preflight?(spec: Spec<T, OptionsOf<S>>): Promise<void>;
  open(spec: Spec<T, OptionsOf<S>>, ctx: OpenContext): Promise<DeviceLink>;
}

export interface ListeningType<T = unknown, S extends OptionsSchema = OptionsSchema> extends EndpointTypeBase<T, S> {
  role: 'listening';
  listen(spec: Spec<T, OptionsOf<S>>, onLink: (link: PeerLink) => void, ctx: OpenContext): Promise<Listener>;
}

export type EndpointType = ConnectingType | ListeningType;

/** A parsed endpoint address: its type and its validated spec. Touches no OS state. */
export interface Endpoint {
  type: EndpointType;
  spec: Spec;
}

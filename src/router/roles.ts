// Who may type: a peer's role (from its door and its credential), its name (users file, trusted proxy header), and the keyboard state peers are shown.
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { EndpointError, UsageError } from '../errors.js';
import type { Logger } from '../log.js';
import { flag } from '../options.js';
import { quoted } from '../uri.js';
import type { Policy } from '../endpoints/hub-options.js';

/**
 * What a peer may do: `full` types (when the policy and the keyboard let it), `view` only
 * watches. conserver's terms: `view` is spy mode, `full` is attach (and force, by taking the
 * keyboard).
 */
export type Role = 'full' | 'view';

/** Spread into every listener's option schema: a read-only door (conserver's spy port). */
export const doorOptions = {
  readonly: flag(false, 'behind a shared device: peers of this listener see everything and type nothing (spy mode)'),
};

/** What a peer is shown about the keyboard: sent as JSON to a page, as a line to a telnet peer. */
export interface KeyboardState {
  type: 'keyboard';
  /** This peer: typing, watching (may take the keyboard), or read-only (may never type). */
  you: 'typing' | 'watching' | 'read-only';
  /** This peer's name, when it has one. */
  name?: string;
  policy: Policy;
  /** Under `exclusive`: who holds the keyboard (a name, or the peer's address); absent when nobody does. */
  holder?: string;
  /** Peers that are not typing now, and all peers. */
  watching: number;
  peers: number;
}

/** A user name: what the users file and a trusted header may give (no spaces, no control characters). */
const NAME = /^[\w.@+-]{1,64}$/;
/** `printf '' | sha256sum`. */
const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
const HEX64 = /^(?:sha256:)?([0-9a-f]{64})$/i;

/** One line of a users file. */
export interface User {
  name: string;
  role: Role;
  /** SHA-256 of the user's token. */
  hash: Buffer;
}

/** Parses a users file's text; throws UsageError naming `file:line`. */
export function parseUsers(text: string, file: string): User[] {
  const users: User[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.replace(/#.*$/, '').trim();
    if (line === '') return;
    const at = `${file}:${i + 1}`;
    const fields = line.split(/\s+/);
    if (fields.length !== 3) throw new UsageError(`${at}: expected "NAME ROLE SHA256" (role full or view, the hex SHA-256 of the user's token), got ${fields.length} field${fields.length === 1 ? '' : 's'}`);
    const [name, role, hash] = fields as [string, string, string];
    if (!NAME.test(name)) throw new UsageError(`${at}: bad name "${name}": expected letters, digits and . _ @ + - (at most 64)`);
    if (role !== 'full' && role !== 'view') throw new UsageError(`${at}: bad role "${role}" for ${name}: expected full (types) or view (watches)`);
    const hex = HEX64.exec(hash);
    if (!hex) throw new UsageError(`${at}: bad token hash for ${name}: expected 64 hex digits (printf %s TOKEN | sha256sum)`);
    // `printf %s "$UNSET" | sha256sum`: a hash of nothing would let in whoever presents nothing.
    if (hex[1]!.toLowerCase() === EMPTY_SHA256) throw new UsageError(`${at}: the token hash for ${name} is the SHA-256 of an empty token: expected the hash of a real secret`);
    if (users.some((u) => u.name === name)) throw new UsageError(`${at}: ${name} is listed twice`);
    const digest = Buffer.from(hex[1]!, 'hex');
    const same = users.find((u) => u.hash.equals(digest));
    if (same) throw new UsageError(`${at}: ${name} has the same token as ${same.name}`);
    users.push({ name, role, hash: digest });
  });
  return users;
}

/**
 * A users file (`?users=FILE`), read at start (a bad file is a usage error) and again on
 * SIGHUP (a bad file is then refused with a log line, and the users before it stay).
 */
export class UsersFile {
  private users: User[];
  private readonly onHup = () => this.reload();
  /** Called after each good reread (the server ends the connections of users gone or changed). */
  onReload: (() => void) | undefined;

  constructor(
    readonly file: string,
    private readonly log: Logger,
    uri: string,
  ) {
    this.users = UsersFile.read(file, uri);
    process.on('SIGHUP', this.onHup);
  }

  private static read(file: string, uri: string): User[] {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new EndpointError(`${uri}: users=${file}`, err);
    }
    return parseUsers(text, file);
  }

  /** Reads the file again; on any error the users already known stay. */
  reload(): void {
    try {
      this.users = UsersFile.read(this.file, this.file);
      this.log.warn(`users file ${this.file} read again: ${this.users.length} user${this.users.length === 1 ? '' : 's'}`);
      this.onReload?.();
    } catch (err) {
      this.log.error(`${(err as Error).message}; keeping the ${this.users.length} users read before`);
    }
  }

  /** The user whose token this is; every entry is compared, in constant time each. */
  match(token: string): User | undefined {
    // node:crypto on first use: every tcp/unix route imports this module for doorOptions.
    const { createHash, timingSafeEqual } = process.getBuiltinModule('node:crypto') as typeof import('node:crypto');
    const given = createHash('sha256').update(token).digest();
    let found: User | undefined;
    for (const u of this.users) if (timingSafeEqual(given, u.hash) && !found) found = u;
    return found;
  }

  find(name: string): User | undefined {
    return this.users.find((u) => u.name === name);
  }

  /** Whether an entry read before is still in the file as it was (same name, role and token). */
  current(u: User): boolean {
    const now = this.find(u.name);
    return now !== undefined && now.role === u.role && now.hash.equals(u.hash);
  }

  close(): void {
    process.off('SIGHUP', this.onHup);
  }
}

/** `?trust-proxy=ADDR[,ADDR]`: the addresses whose user header is believed. */
export function parseTrustProxy(text: string | undefined, uri: string): string[] {
  if (text === undefined) return [];
  const addrs = text.split(',').map((s) => s.trim()).filter(Boolean);
  for (const a of addrs) if (!net.isIP(a)) throw new UsageError(`${uri}: trust-proxy= expects IP addresses separated by commas, got ${quoted(a)}`);
  return addrs.map(normalAddress);
}

/** An address as compared: IPv4-mapped IPv6 (`::ffff:127.0.0.1`) as plain IPv4. */
export const normalAddress = (a: string) => a.toLowerCase().replace(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/, '$1');

/** The name a trusted proxy's header gives, or undefined (no header, a bad name, or an untrusted sender). */
export function proxyUser(trusted: string[], remote: string | undefined, value: string | string[] | undefined): string | undefined {
  if (typeof value !== 'string' || remote === undefined || !trusted.includes(normalAddress(remote))) return undefined;
  const name = value.trim();
  return NAME.test(name) ? name : undefined;
}

/** The one line a peer without a page (telnet, raw TCP) is told when its keyboard state changes. */
export function describeKeyboard(s: KeyboardState): string {
  if (s.you === 'read-only') return 'read-only: you are watching';
  if (s.you === 'typing') return s.policy === 'exclusive' ? 'you have the keyboard' : 'you may type';
  return s.holder ? `${s.holder} has the keyboard; you are watching` : 'nobody has the keyboard; type to take it';
}

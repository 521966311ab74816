// Who a peer is: the users file (name, role, token hash, reread on SIGHUP) and the name a trusted proxy's header gives.
import { readFileSync } from 'node:fs';
import net from 'node:net';
import type { Logger } from '../core/logger.js';
import type { Role } from '../core/roles.js';
import { EndpointError, UsageError } from '../errors.js';
import { quoted } from '../uri.js';

/** A user name: what the users file and a trusted header may give (no spaces, no control characters). */
const NAME = /^[\w.@+-]{1,64}$/;
/** A token's SHA-256, or a certificate's fingerprint as `openssl x509 -fingerprint -sha256` prints it (AB:CD:…). */
/** `printf '' | sha256sum`. */
const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
const HEX64 = /^(?:sha256:)?((?:[0-9a-f]{2}:){31}[0-9a-f]{2}|[0-9a-f]{64})$/i;
/** In place of a hash: any certificate from the door's ?client-ca= whose CN or a SAN is the user's name. */
const BY_NAME = 'cert';

/** One line of a users file. */
export interface User {
  name: string;
  role: Role;
  /** SHA-256 of the user's token, or of the user's certificate (its fingerprint); empty for a `cert` line (matched by name). */
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
    if (fields.length !== 3)
      throw new UsageError(
        `${at}: expected "NAME ROLE SHA256" (role full or view, the hex SHA-256 of the user's token or certificate, or "cert"), got ${fields.length} field${fields.length === 1 ? '' : 's'}`,
      );
    const [name, role, hash] = fields as [string, string, string];
    if (!NAME.test(name)) throw new UsageError(`${at}: bad name "${name}": expected letters, digits and . _ @ + - (at most 64)`);
    if (role !== 'full' && role !== 'view') throw new UsageError(`${at}: bad role "${role}" for ${name}: expected full (types) or view (watches)`);
    const hex = HEX64.exec(hash);
    if (!hex && hash !== BY_NAME)
      throw new UsageError(
        `${at}: bad token hash for ${name}: expected 64 hex digits (printf %s TOKEN | sha256sum; a certificate's openssl x509 -noout -fingerprint -sha256), or "cert" (a client certificate naming ${name})`,
      );
    // `printf %s "$UNSET" | sha256sum`: a hash of nothing would let in whoever presents nothing.
    if (hex && hex[1]!.replaceAll(':', '').toLowerCase() === EMPTY_SHA256)
      throw new UsageError(`${at}: the token hash for ${name} is the SHA-256 of an empty token: expected the hash of a real secret`);
    if (users.some((u) => u.name === name)) throw new UsageError(`${at}: ${name} is listed twice`);
    const digest = hex ? Buffer.from(hex[1]!.replaceAll(':', ''), 'hex') : Buffer.alloc(0);
    const same = digest.length > 0 && users.find((u) => u.hash.equals(digest));
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
    for (const u of this.users) if (u.hash.length === given.length && timingSafeEqual(given, u.hash) && !found) found = u;
    return found;
  }

  /**
   * The user a verified client certificate names: by its SHA-256 fingerprint, else a `cert`
   * line whose name is the certificate's CN or one of its SANs (the CA vouches for the name).
   */
  matchCertificate(fingerprint: Buffer, names: string[]): User | undefined {
    return this.users.find((u) => u.hash.length > 0 && u.hash.equals(fingerprint)) ?? this.users.find((u) => u.hash.length === 0 && names.includes(u.name));
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
  const addrs = text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
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

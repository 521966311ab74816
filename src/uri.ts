// Address grammar shared by every type: `scheme:target?key=value&flag`, `-` for stdio.
import type { OptionsOf, OptionsSchema } from './core/option-schema.js';
import { UsageError } from './errors.js';

export interface RawAddress {
  uri: string;
  scheme: string;
  /** The target as typed, up to the first `?`; `decodeTarget` gives its value. */
  target: string;
  /** Option values, percent-decoded. */
  query: Map<string, string>;
}

/** Splits an address into scheme, target and query, without knowing the scheme's type. */
export function splitAddress(uri: string): RawAddress {
  if (uri === '-') return { uri, scheme: 'stdio', target: '', query: new Map() };
  const m = /^([a-zA-Z][a-zA-Z0-9+.-]*):(.*)$/s.exec(uri);
  if (!m) {
    throw new UsageError(
      `${quoteUri(uri)}: expected an address of the form scheme:target (for example tcp:localhost:23 or tcp-listen:8080); see ptybridge --help`,
    );
  }
  const scheme = m[1]!.toLowerCase();
  const rest = m[2]!;
  const q = rest.indexOf('?');
  const target = q < 0 ? rest : rest.slice(0, q);
  const query = q < 0 ? new Map<string, string>() : parseQuery(uri, rest.slice(q + 1));
  return { uri, scheme, target, query };
}

/** The target's value: percent-decoded like option values (`exec:echo a%3Fb` runs `echo a?b`). */
export function decodeTarget(raw: RawAddress): string {
  return decodeOrRefuse(raw.uri, 'the target', raw.target);
}

/**
 * The one decoding of address text, for targets and option values alike: the URL
 * standard's percent-decode (WHATWG URL §1.3): `%XX` (two hex digits) is the byte XX, the
 * bytes are read as UTF-8; a `%` not followed by two hex digits stays as typed (so
 * `printf %s` needs no escaping); `+` is a plus, never a space (form encoding is not
 * used: a base64 token or a path keeps its `+`). Undefined when the bytes are not UTF-8.
 */
export function percentDecode(text: string): string | undefined {
  if (!text.includes('%')) return text;
  const bytes: number[] = [];
  const utf8 = Buffer.from(text, 'utf8');
  const hex = (b: number | undefined) => b !== undefined && ((b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x46) || (b >= 0x61 && b <= 0x66));
  for (let i = 0; i < utf8.length; i++) {
    const b = utf8[i]!;
    if (b === 0x25 && hex(utf8[i + 1]) && hex(utf8[i + 2])) {
      bytes.push(parseInt(String.fromCharCode(utf8[i + 1]!, utf8[i + 2]!), 16));
      i += 2;
    } else {
      bytes.push(b);
    }
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(Uint8Array.from(bytes));
  } catch {
    return undefined;
  }
}

function decodeOrRefuse(uri: string, what: string, text: string, secret = false): string {
  const decoded = percentDecode(text);
  if (decoded === undefined) {
    const shown = secret ? 'the value' : quoted(text);
    throw new UsageError(`${quoteUri(uri)}: ${what}: ${shown} percent-decodes to bytes that are not UTF-8 (write %25 for a literal %)`);
  }
  return decoded;
}

function parseQuery(uri: string, text: string): Map<string, string> {
  const query = new Map<string, string>();
  for (const part of text.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const key = eq < 0 ? part : part.slice(0, eq);
    const value = eq < 0 ? '' : part.slice(eq + 1);
    if (query.has(key)) throw new UsageError(`${quoteUri(uri)}: option ${quoted(key)} is given twice`);
    query.set(key, decodeOrRefuse(uri, `option ${quoted(key)}`, value, /token/i.test(key)));
  }
  return query;
}

/** Validates query options against a type's schema: unknown keys and bad values are refused. */
export function parseOptions<S extends OptionsSchema>(raw: RawAddress, schema: S): OptionsOf<S> {
  const known = Object.keys(schema.shape);
  for (const key of raw.query.keys()) {
    if (!known.includes(key)) {
      const hint = didYouMean(key, known);
      const list = known.length ? `; ${raw.scheme}: takes ${known.join(', ')}` : `; ${raw.scheme}: takes no options`;
      // The value is not shown: a misspelled token= (`tokn=`) holds a secret all the same.
      throw new UsageError(
        `${quoteUri(redactSecrets(raw.uri, [key.toLowerCase()]))}: unknown option ${quoted(key)}${hint ? ` (did you mean "${hint}"?)` : list}`,
      );
    }
  }
  const out: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(schema.shape)) {
    const got = field.read(raw.query.get(key));
    if (!got) throw new UsageError(`${quoteUri(raw.uri)}: option ${quoted(key)} expects ${field.meta().expected}, got ${quoted(raw.query.get(key) ?? '')}`);
    out[key] = got.value;
  }
  return out as OptionsOf<S>;
}

export interface HostPort {
  host: string;
  port: number;
  /** True when the user gave only a port and a door chose loopback for them. */
  defaultedHost: boolean;
}

/**
 * `host:port`, `[v6]:port`, or (doors only) a bare port, which binds loopback.
 * Port 0 is allowed for doors: the OS picks one and the "listening on" line tells it.
 */
export function parseHostPort(target: string, uri: string, opts: { listening: boolean }): HostPort {
  const form = opts.listening ? '[host:]port' : 'host:port';
  let host: string;
  let portText: string;
  let defaultedHost = false;
  const v6 = /^\[([^\]]+)\]:(.*)$/.exec(target);
  if (v6) {
    host = v6[1]!;
    portText = v6[2]!;
  } else if (target.includes(':')) {
    const i = target.lastIndexOf(':');
    host = target.slice(0, i);
    portText = target.slice(i + 1);
    if (host.includes(':')) throw new UsageError(`${quoteUri(uri)}: an IPv6 address needs brackets: [${quoteUri(host)}]:${quoteUri(portText)}`);
  } else if (opts.listening) {
    host = '127.0.0.1';
    portText = target;
    defaultedHost = true;
  } else {
    throw new UsageError(`${quoteUri(uri)}: expected ${form}, got ${quoted(target)}`);
  }
  if (target === '') throw new UsageError(`${quoteUri(uri)}: missing target: expected ${form}`);
  if (host === '') throw new UsageError(`${quoteUri(uri)}: missing host: expected ${form}, got ${quoted(target)}`);
  const min = opts.listening ? 0 : 1;
  if (!/^\d+$/.test(portText) || Number(portText) < min || Number(portText) > 65535) {
    throw new UsageError(`${quoteUri(uri)}: bad port ${quoted(portText)}: expected a number ${min}-65535`);
  }
  return { host, port: Number(portText), defaultedHost };
}

/** "host:port" with brackets for IPv6. */
export function formatHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** The closest candidate within an edit distance of 2, for "did you mean". */
export function didYouMean(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = 3;
  for (const c of candidates) {
    const d = editDistance(word.toLowerCase(), c.toLowerCase());
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length]!;
}

/**
 * The URI as it appears in messages: secrets (`token=`) hidden, control characters made
 * visible, so that text a user typed can neither break the one-line error nor send escape
 * sequences to a terminal.
 */
export function quoteUri(uri: string): string {
  // JSON escapes C0 controls, quotes and lone surrogates; DEL, C1 (0x9b is a CSI on some
  // terminals) and the Unicode line separators it leaves alone.
  return JSON.stringify(redactSecrets(uri))
    .slice(1, -1)
    .replace(/[\u007f-\u009f\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** A piece of user text in a message: in double quotes, made visible like quoteUri. */
export function quoted(text: string): string {
  return `"${quoteUri(text)}"`;
}

/**
 * Option names whose values are secrets: never shown in a message or a log. `env=` of exec:
 * is where a command's credentials go (API keys, passwords).
 */
const SECRET_KEYS = ['token', 'view-token', 'env'];

/** Whether an option's value is a secret (`token`, `view-token`, `env`), never to be shown. */
export const isSecretKey = (key: string): boolean => SECRET_KEYS.includes(key.toLowerCase());

/**
 * A URI with every secret option's value hidden (`token=…`), however its key is spelled
 * (`%74oken=`); `also`: more keys to hide (a misspelled `tokn=` may hold a secret too).
 */
export function redactSecrets(uri: string, also: string[] = []): string {
  // Every `?key=` or `&key=` counts, one inside another's value too (`tcp:&=?token=…`):
  // hiding too much is harmless, showing a secret is not.
  let out = '';
  let from = 0;
  for (const m of uri.matchAll(/[?&]([^=&?]*)=/g)) {
    const start = m.index + m[0].length;
    const key = (percentDecode(m[1]!) ?? m[1]!).toLowerCase();
    if (start < from || !(SECRET_KEYS.includes(key) || also.includes(key))) continue;
    const end = uri.indexOf('&', start);
    out += `${uri.slice(from, start)}…`;
    from = end < 0 ? uri.length : end;
  }
  return out + uri.slice(from);
}

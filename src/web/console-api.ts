// The HTTP console API (docs/CONSOLE-API.md): a program reads a shared console's screen and output, sends input and waits for text, with the page's credentials and roles.
import type http from 'node:http';
import { serveHistory } from './history-files.js';
import type { ConsoleApi, Refusal } from '../core/console-api.js';
import type { Admitted } from './auth.js';
import { type Found, RegexPool, RegexTooSlow } from './regex-pool.js';

/** Bounds: hostile callers are a test too. */
export const LIMITS = { body: 64 * 1024, regex: 1024, timeoutMs: 60_000, output: 256 * 1024, waitersPerCaller: 8, quietMs: 60_000, regexMs: 1000 };

/** Callers' patterns run here, off the event loop that serves every console. */
const matcher = new RegexPool(2, LIMITS.regexMs);

const KEYS: Record<string, string> = {
  Enter: '\r',
  Tab: '\t',
  Escape: '\x1b',
  Backspace: '\x7f',
  Up: '\x1b[A',
  Down: '\x1b[B',
  Right: '\x1b[C',
  Left: '\x1b[D',
  Home: '\x1b[H',
  End: '\x1b[F',
  Delete: '\x1b[3~',
  PageUp: '\x1b[5~',
  PageDown: '\x1b[6~',
  Space: ' ',
};

/** `Enter`, `Ctrl-C`, `Escape`…: the bytes a key sends; undefined for a name we do not know. */
export function keyBytes(name: string): string | undefined {
  const ctrl = /^Ctrl-([A-Za-z@[\\\]^_])$/.exec(name);
  if (ctrl) return String.fromCharCode(ctrl[1]!.toUpperCase().charCodeAt(0) & 0x1f);
  return KEYS[name];
}

/** `\n`, `\r`, `\t`, `\e`, `\xHH`, `\\` in a text to send. */
export function unescape(text: string): string {
  return text.replace(/\\(x[0-9a-fA-F]{2}|[nrte\\])/g, (_m, c: string) =>
    c[0] === 'x' ? String.fromCharCode(parseInt(c.slice(1), 16)) : ({ n: '\n', r: '\r', t: '\t', e: '\x1b', '\\': '\\' } as Record<string, string>)[c]!,
  );
}

const waiting = new Map<string, number>();

class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly extra: Record<string, unknown> = {},
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

function json(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), 'Cache-Control': 'no-store', ...headers });
  res.end(text);
}

async function readBody(req: http.IncomingMessage): Promise<Record<string, unknown>> {
  const parts: Buffer[] = [];
  let n = 0;
  for await (const c of req as AsyncIterable<Buffer>) {
    n += c.length;
    if (n > LIMITS.body) throw new ApiError(413, `body larger than ${LIMITS.body} bytes`);
    parts.push(c);
  }
  if (n === 0) return {};
  try {
    const v: unknown = JSON.parse(Buffer.concat(parts).toString('utf8'));
    if (v && typeof v === 'object' && !Array.isArray(v)) return v as Record<string, unknown>;
  } catch {
    /* answered below */
  }
  throw new ApiError(400, 'the body must be a JSON object');
}

const int = (v: unknown, name: string, min: number, max: number, dflt: number): number => {
  if (v === undefined || v === null || v === '') return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw new ApiError(400, `${name} must be an integer from ${min} to ${max}`);
  return n;
};

/** A refusal of the console as an answer; a full console says when to come back. */
const refusal = (r: Refusal) => new ApiError(r.status, r.why, {}, r.status === 503 ? { 'Retry-After': '1' } : {});

/** Who the caller is, for the transcript and the per-caller limits. */
const callerOf = (req: http.IncomingMessage, auth: Admitted) => ({ role: auth.role, user: auth.user, label: `api ${req.socket.remoteAddress ?? '?'}` });

/**
 * Answers /api/consoles/NAME/ACTION. `find` gives the console by name. Every answer carries
 * the cursor (`next`): output past it is what the caller has not seen.
 */
export async function serveConsoleApi(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  url: URL,
  auth: Admitted,
  find: (name: string) => ConsoleApi | undefined,
  names: () => string[],
  boots: () => Record<string, string> = () => ({}),
  histories: () => string[] = () => [],
): Promise<void> {
  try {
    if (url.pathname === '/api/consoles' || url.pathname === '/api/consoles/') {
      if (req.method !== 'GET') throw new ApiError(405, 'the list takes GET');
      // `history` only when some console keeps one: the page shows its history button by it without asking a console that has none (a 409 in its log).
      const kept = histories();
      return json(res, 200, {
        role: auth.role,
        ...(auth.user !== undefined ? { user: auth.user } : {}),
        consoles: names(),
        boots: boots(),
        ...(kept.length ? { history: kept } : {}),
      });
    }
    const h = /^\/api\/consoles\/([^/]+)\/history(?:\/([^/]+))?$/.exec(url.pathname);
    if (h) {
      const api = find(decodeURIComponent(h[1]!));
      if (!api) throw new ApiError(404, `no console named ${decodeURIComponent(h[1]!)}`);
      if (!api.history) throw new ApiError(409, 'this console keeps no history: start its route with ?history=DIR or --history ROOT');
      // Watching is enough: the history is what a viewer saw, or could have.
      return serveHistory(req, res, api.history, h[2] === undefined ? undefined : decodeURIComponent(h[2]));
    }
    const m = /^\/api\/consoles\/([^/]+)\/(screen|send|expect|output|wait-quiet)$/.exec(url.pathname);
    if (!m) throw new ApiError(404, 'no such API path: /api/consoles/NAME/{screen,send,expect,output,wait-quiet,history}');
    const api = find(decodeURIComponent(m[1]!));
    if (!api) throw new ApiError(404, `no console named ${decodeURIComponent(m[1]!)}`);
    const action = m[2]!;
    const wantGet = action === 'screen' || action === 'output';
    if (req.method !== (wantGet ? 'GET' : 'POST')) throw new ApiError(405, `${action} takes ${wantGet ? 'GET' : 'POST'}`);
    const caller = callerOf(req, auth);
    if (action === 'screen') {
      const view = await api.screen();
      if (!view) throw new ApiError(409, 'this console keeps no screen: start its route with ?replay=screen');
      const format = url.searchParams.get('format') ?? 'json';
      if (format === 'text') {
        res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8' });
        return void res.end(`${view.rows.join('\n')}\n`);
      }
      if (format === 'ansi') {
        res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8' });
        return void res.end(view.ansi);
      }
      if (format !== 'json') throw new ApiError(400, 'format must be text, ansi or json');
      const { ansi: _ansi, ...rest } = view;
      return json(res, 200, { ...rest, next: api.end() });
    }
    if (action === 'output') {
      const since = int(url.searchParams.get('since'), 'since', 0, Number.MAX_SAFE_INTEGER, api.end());
      const s = api.read(since, int(url.searchParams.get('max'), 'max', 1, LIMITS.output, LIMITS.output));
      return json(res, 200, { text: s.data.toString('latin1'), from: s.from, next: s.next, gap: s.gap });
    }
    const body = await readBody(req);
    if (action === 'send') {
      if (auth.role !== 'full') throw new ApiError(403, 'read-only: this token may watch, not type');
      if (Array.isArray(body.keys) && body.keys.length === 1 && body.keys[0] === 'Break' && body.text === undefined && body.base64 === undefined) {
        const no = api.sendBreak(int(body.ms, 'ms', 0, 10_000, 250), caller);
        if (no) throw refusal(no);
        return json(res, 200, { sent: 0, break: true, next: api.end() });
      }
      const pieces: string[] = [];
      if (typeof body.text === 'string') pieces.push(unescape(body.text));
      if (typeof body.base64 === 'string') pieces.push(Buffer.from(body.base64, 'base64').toString('latin1'));
      if (Array.isArray(body.keys)) {
        for (const k of body.keys) {
          const b = typeof k === 'string' ? keyBytes(k) : undefined;
          if (k === 'Break') throw new ApiError(400, 'Break goes alone: {"keys": ["Break"], "ms": 250}');
          if (b === undefined) throw new ApiError(400, `unknown key ${JSON.stringify(k)}: Enter, Tab, Escape, Ctrl-A…Ctrl-Z, arrows, Home, End…`);
          pieces.push(b);
        }
      }
      if (pieces.length === 0) throw new ApiError(400, 'send needs text, base64 or keys');
      const next = api.end();
      const no = api.send(Buffer.from(pieces.join(''), 'latin1'), caller);
      if (no) throw refusal(no);
      return json(res, 200, { sent: Buffer.byteLength(pieces.join(''), 'latin1'), next });
    }
    // expect / wait-quiet hold the request: bounded per caller.
    const key = `${caller.user ?? ''}\0${req.socket.remoteAddress}`;
    if ((waiting.get(key) ?? 0) >= LIMITS.waitersPerCaller) throw new ApiError(429, `more than ${LIMITS.waitersPerCaller} waits at once for this caller`);
    const place = api.hold(caller.label);
    if ('max' in place)
      throw refusal({ status: 503, why: `the console has its most peers (?max-peers=${place.max}), waiting callers included: try again later` });
    waiting.set(key, (waiting.get(key) ?? 0) + 1);
    const ac = new AbortController();
    res.once('close', () => ac.abort());
    try {
      if (action === 'wait-quiet')
        return await waitQuiet(res, api, int(body.ms, 'ms', 1, LIMITS.quietMs, 500), int(body.timeout, 'timeout', 1, LIMITS.timeoutMs, 10_000), ac);
      return await expect(res, api, body, ac, key);
    } finally {
      const n = (waiting.get(key) ?? 1) - 1;
      if (n) waiting.set(key, n);
      else waiting.delete(key);
      place.release();
      ac.abort();
    }
  } catch (err) {
    if (err instanceof ApiError) return json(res, err.status, { error: err.message, ...err.extra }, err.headers);
    if (!res.headersSent) json(res, 500, { error: (err as Error).message });
  }
}

async function expect(res: http.ServerResponse, api: ConsoleApi, body: Record<string, unknown>, ac: AbortController, owner: string): Promise<void> {
  if (typeof body.regex !== 'string' || body.regex.length === 0 || body.regex.length > LIMITS.regex)
    throw new ApiError(400, `regex must be a string of 1 to ${LIMITS.regex} characters`);
  const flags = typeof body.flags === 'string' && /^[imsu]*$/.test(body.flags) ? body.flags : '';
  try {
    // Compiling is linear in the pattern; only matching can backtrack without end.
    new RegExp(body.regex, flags);
  } catch (err) {
    throw new ApiError(400, `regex: ${(err as Error).message}`);
  }
  const timeout = int(body.timeout, 'timeout', 0, LIMITS.timeoutMs, 10_000);
  let since = int(body.since, 'since', 0, Number.MAX_SAFE_INTEGER, api.end());
  const timer = setTimeout(() => ac.abort(), timeout);
  let seen = '';
  let gap = false;
  let from = since;
  try {
    for (;;) {
      const s = api.read(since, LIMITS.output);
      if (s.gap) {
        gap = true;
        if (!seen) from = s.from;
      }
      // Text is latin1 so that offsets are bytes; the window is bounded by keeping the tail.
      seen += s.data.toString('latin1');
      if (seen.length > LIMITS.output) {
        from += seen.length - LIMITS.output;
        seen = seen.slice(-LIMITS.output);
      }
      since = s.next;
      let m: Found | null;
      try {
        m = await matcher.exec(body.regex, flags, seen, owner);
      } catch (err) {
        if (!(err instanceof RegexTooSlow)) throw err;
        throw new ApiError(
          422,
          `regex /${body.regex}/ ran over ${LIMITS.regexMs} ms on ${seen.length} bytes of output and was stopped (catastrophic backtracking: nested repetition such as (a+)+); write it without`,
          { seen: seen.slice(-4096), next: since, gap },
        );
      }
      if (m) {
        const next = from + m.index + m.match.length;
        return json(res, 200, { match: m.match, groups: m.groups, named: m.named, before: seen.slice(0, m.index), next, gap });
      }
      if (ac.signal.aborted) return json(res, 408, { error: `no match for /${body.regex}/ within ${timeout} ms`, seen, next: since, gap });
      await api.waitFor(since, ac.signal);
    }
  } finally {
    clearTimeout(timer);
  }
}

async function waitQuiet(res: http.ServerResponse, api: ConsoleApi, ms: number, timeout: number, ac: AbortController): Promise<void> {
  const deadline = setTimeout(() => ac.abort(), timeout);
  try {
    for (;;) {
      const at = api.end();
      const quiet = new AbortController();
      const t = setTimeout(() => quiet.abort(), ms);
      const onAbort = () => quiet.abort();
      ac.signal.addEventListener('abort', onAbort, { once: true });
      await api.waitFor(at, quiet.signal);
      clearTimeout(t);
      ac.signal.removeEventListener('abort', onAbort);
      // Silent until the caller's deadline is not quiet for `ms` when `ms` is longer.
      if (api.end() === at && !ac.signal.aborted) return json(res, 200, { quiet: true, next: at });
      if (ac.signal.aborted) return json(res, 408, { error: `output did not stop for ${ms} ms within ${timeout} ms`, next: api.end() });
    }
  } finally {
    clearTimeout(deadline);
  }
}

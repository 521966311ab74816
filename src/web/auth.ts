// Who may use a ws-listen server: the token (header, cookie or ?token=) and the browser Origin check.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { percentDecode } from '../uri.js';

/** A fresh random token for a non-loopback listener that was given none. */
export function generateToken(): string {
  return randomBytes(24).toString('base64url');
}

/** Compares in constant time; hashing first makes the lengths equal and hides them. */
export function tokenMatches(given: string | undefined, expected: string): boolean {
  if (given === undefined) return false;
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

/**
 * The cookie that carries the token after a browser opened the page with `?token=`.
 * Cookies are not scoped by port, so the name carries it: two servers on one host do not
 * overwrite each other's token.
 */
export const cookieName = (port: number) => `ptybridge_token_${port}`;

/** Where a request may carry the token: Authorization: Bearer, the cookie, or ?token=. */
export function tokenOf(req: IncomingMessage, url: URL, port: number): string | undefined {
  const auth = req.headers.authorization;
  if (auth && /^bearer\s+/i.test(auth)) return auth.replace(/^bearer\s+/i, '').trim();
  // Decoded as addresses are (src/uri.ts): a `+` stays a plus, as in the token the server was given.
  const fromQuery = /^token=(.*)$/.exec(url.search.slice(1).split('&').find((p) => p.startsWith('token=')) ?? '')?.[1];
  if (fromQuery !== undefined) return percentDecode(fromQuery) ?? fromQuery;
  const name = cookieName(port);
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) {
      try {
        return decodeURIComponent(part.slice(eq + 1).trim());
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}

/** The Set-Cookie header that lets the page's own socket carry the token. */
export function tokenCookie(port: number, token: string, secure: boolean): string {
  return `${cookieName(port)}=${encodeURIComponent(token)}; Path=/; HttpOnly; SameSite=Strict${secure ? '; Secure' : ''}`;
}

/**
 * A browser always sends Origin with a WebSocket upgrade; a page from another site must not
 * drive the terminal (cross-site WebSocket hijacking). Allowed: no Origin (not a browser),
 * an Origin on the allow-list (`*` allows any), or the same host as the request's Host.
 */
export function originAllowed(req: IncomingMessage, allow: readonly string[]): boolean {
  const origin = req.headers.origin;
  if (origin === undefined) return true;
  if (allow.includes('*')) return true;
  const normal = origin.toLowerCase().replace(/\/$/, '');
  if (allow.some((a) => a.toLowerCase().replace(/\/$/, '') === normal)) return true;
  try {
    return new URL(origin).host === (req.headers.host ?? '').toLowerCase();
  } catch {
    return false;
  }
}

/** The request URL with any token removed, for logs. */
export function redactUrl(url: string | undefined): string {
  return (url ?? '').replace(/([?&]token=)[^&]*/gi, '$1…');
}

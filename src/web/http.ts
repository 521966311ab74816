// The HTTP side of ws-listen: the bundled terminal page and its assets, and ?static=DIR (websockify --web).
import { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { assets } from 'ptybridge:web-assets';

/** Where the page's script and style live, below the page's own directory. */
export const ASSET_DIR = '_ptybridge';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.wasm': 'application/wasm',
  '.txt': 'text/plain; charset=utf-8',
};

export const PAGE_HEADERS = {
  'X-Content-Type-Options': 'nosniff',
  // The page URL may carry ?token=: never hand it to another site.
  'Referrer-Policy': 'no-referrer',
  'X-Frame-Options': 'DENY',
  'Content-Security-Policy': "default-src 'self'; connect-src 'self'; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'",
};

const gzipped = new Map<string, Buffer>();

/** The tab's icon (a prompt on a dark square): without one every page load logs a 404 for /favicon.ico. */
const FAVICON = Buffer.from(
  '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><rect width="16" height="16" rx="3" fill="#222"/><path d="M3 4l4 4-4 4" stroke="#3c3" stroke-width="2" fill="none"/><path d="M8 12h5" stroke="#ddd" stroke-width="2"/></svg>\n',
);

/** Answers `/favicon.ico` and the pages' `_ptybridge/favicon.svg` with the icon; false for any other path. */
export function serveFavicon(req: IncomingMessage, res: ServerResponse, pathname: string, headers: Record<string, string>): boolean {
  if (pathname !== '/favicon.ico' && !pathname.endsWith(`/${ASSET_DIR}/favicon.svg`)) return false;
  res.writeHead(200, {
    'Content-Type': 'image/svg+xml',
    'Content-Length': String(FAVICON.length),
    'Cache-Control': 'max-age=86400',
    ...PAGE_HEADERS,
    ...headers,
  });
  res.end(req.method === 'HEAD' ? undefined : FAVICON);
  return true;
}

/** Sends a plain-text status answer (401, 403, 404, 503). */
export function answer(res: ServerResponse, status: number, text: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store', ...PAGE_HEADERS, ...headers });
  res.end(`${text}\n`);
}

/**
 * Serves the terminal page at `pagePath` (`/` when undefined; no page when null), or one of
 * its assets; false when `pathname` is neither.
 */
export function serveTerminal(
  req: IncomingMessage,
  res: ServerResponse,
  pathname: string,
  pagePath: string | undefined | null,
  headers: Record<string, string>,
): boolean {
  let name: string | undefined;
  if (pagePath !== null && pathname === (pagePath ?? '/')) name = 'index.html';
  else {
    const m = new RegExp(`/${ASSET_DIR}/([a-z.-]+)$`).exec(pathname);
    if (m && m[1] !== 'index.html' && assets[m[1]!]) name = m[1]!;
  }
  if (!name) return false;
  const asset = assets[name]!;
  const gzip = /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''));
  let body: Buffer = Buffer.from(asset.body, 'utf8');
  if (gzip) {
    body = gzipped.get(name) ?? gzipSync(body);
    gzipped.set(name, body);
  }
  res.writeHead(200, {
    'Content-Type': asset.type,
    'Content-Length': String(body.length),
    'Cache-Control': name === 'index.html' ? 'no-store' : 'max-age=3600',
    ...(gzip ? { 'Content-Encoding': 'gzip' } : {}),
    Vary: 'Accept-Encoding',
    ...PAGE_HEADERS,
    ...headers,
  });
  res.end(req.method === 'HEAD' ? undefined : body);
  return true;
}

/**
 * What static files are sent with: no sniffing, no referrer, no framing by other sites (a
 * served noVNC page must not be clickjacked). Not the page's full CSP: it would break
 * the pages served (noVNC's images, workers, styles).
 */
export const STATIC_HEADERS = {
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'X-Frame-Options': 'SAMEORIGIN',
  'Content-Security-Policy': "frame-ancestors 'self'",
};

/**
 * Opens `name` (one path component) inside the directory open as `dir`, without following a
 * symlink, as openat(2) with O_NOFOLLOW does (Node has no openat: the directory's own
 * /proc/self/fd entry stands in for it). O_NONBLOCK: a FIFO must not hang the server.
 * Undefined when it cannot be opened: missing, a symlink (ELOOP), no permission.
 */
function openAt(dir: FileHandle, name: string, directory = false): Promise<FileHandle | undefined> {
  const C = constants;
  const flags = C.O_RDONLY | C.O_NOFOLLOW | C.O_NONBLOCK | C.O_NOCTTY | (directory ? C.O_DIRECTORY : 0);
  return open(`/proc/self/fd/${dir.fd}/${name}`, flags).catch(() => undefined);
}

/**
 * Serves a file below `root` (websockify --web) as nginx's `disable_symlinks on` does: the
 * path is walked one component at a time from the open root, each opened inside the last
 * without following a symlink, and the file's handle is what is read. Checking a path and
 * then opening it again would serve whatever a writer swapped in between (a symlink to a
 * secret). `..`, encoded slashes, symlinks and dotfiles (`.git`, `.env`; `?dotfiles`
 * allows them) are 404, as missing files are; a directory serves its index.html and is
 * never listed.
 */
export async function serveStatic(
  req: IncomingMessage,
  res: ServerResponse,
  pathname: string,
  root: string,
  opts: { dotfiles: boolean; headers: Record<string, string> },
): Promise<boolean> {
  let rel: string;
  try {
    rel = decodeURIComponent(pathname);
  } catch {
    return false;
  }
  if (rel.includes('\0')) return false;
  const parts = rel.split('/').filter((p) => p !== '');
  if (parts.some((p) => p === '..' || p === '.' || (!opts.dotfiles && p.startsWith('.')))) return false;
  // The root itself is the operator's choice: a symlink there is followed.
  let fh = await open(root, constants.O_RDONLY | constants.O_DIRECTORY).catch(() => undefined);
  try {
    for (const [i, part] of parts.entries()) {
      if (!fh) return false;
      const next: FileHandle | undefined = await openAt(fh, part, i < parts.length - 1);
      await fh.close();
      fh = next;
    }
    if (!fh) return false;
    let info = await fh.stat();
    let name = parts.at(-1) ?? 'index.html';
    if (info.isDirectory()) {
      name = 'index.html';
      const index = await openAt(fh, 'index.html');
      await fh.close();
      fh = index;
      if (!fh) return false;
      info = await fh.stat();
    }
    if (!info.isFile()) return false;
    res.writeHead(200, {
      'Content-Type': TYPES[path.extname(name).toLowerCase()] ?? 'application/octet-stream',
      'Content-Length': String(info.size),
      'Cache-Control': 'no-cache',
      ...STATIC_HEADERS,
      ...opts.headers,
    });
    if (req.method === 'HEAD' || info.size === 0) {
      res.end();
      return true;
    }
    // The handle goes to the stream, which closes it; at most the size announced is sent.
    const stream = fh.createReadStream({ start: 0, end: info.size - 1 });
    fh = undefined;
    stream.on('error', () => res.destroy()).pipe(res);
    return true;
  } catch {
    return false;
  } finally {
    await fh?.close().catch(() => {});
  }
}

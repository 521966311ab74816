// The HTTP side of ws-listen: the bundled terminal page and its assets, and ?static=DIR (websockify --web).
import { createReadStream } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
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

/** Sends a plain-text status answer (401, 403, 404, 503). */
export function answer(res: ServerResponse, status: number, text: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store', ...PAGE_HEADERS, ...headers });
  res.end(`${text}\n`);
}

/**
 * Serves the terminal page at `pagePath` (`/` when undefined; no page when null), or one of
 * its assets; false when `pathname` is neither.
 */
export function serveTerminal(req: IncomingMessage, res: ServerResponse, pathname: string, pagePath: string | undefined | null, headers: Record<string, string>): boolean {
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
 * Serves a file below `root` (websockify --web). Paths that leave the directory, by `..`,
 * encoded slashes or a symlink, are refused with 404, as missing files are; a directory
 * serves its index.html and is never listed.
 */
export async function serveStatic(req: IncomingMessage, res: ServerResponse, pathname: string, root: string): Promise<boolean> {
  let rel: string;
  try {
    rel = decodeURIComponent(pathname);
  } catch {
    return false;
  }
  if (rel.includes('\0')) return false;
  const realRoot = await realpath(root).catch(() => undefined);
  if (!realRoot) return false;
  const inside = (p: string) => p === realRoot || p.startsWith(realRoot + path.sep);
  let file = path.resolve(realRoot, `.${path.sep}${rel}`);
  if (!inside(file)) return false;
  try {
    file = await realpath(file);
    if (!inside(file)) return false;
    let info = await stat(file);
    if (info.isDirectory()) {
      file = path.join(file, 'index.html');
      info = await stat(file);
    }
    if (!info.isFile()) return false;
    res.writeHead(200, {
      'Content-Type': TYPES[path.extname(file).toLowerCase()] ?? 'application/octet-stream',
      'Content-Length': String(info.size),
      'X-Content-Type-Options': 'nosniff',
      'Cache-Control': 'no-cache',
    });
    if (req.method === 'HEAD') res.end();
    else createReadStream(file).on('error', () => res.destroy()).pipe(res);
    return true;
  } catch {
    return false;
  }
}

// GET /api/consoles/NAME/history[/FILE.cast]: a console's recordings for any authenticated caller, ranges included, with bounded open files.
import type http from 'node:http';
import { open } from 'node:fs/promises';
import type { ConsoleApi } from '../core/console-api.js';

/** Files being sent at once, by every caller together, and by one address. */
export const HISTORY_LIMITS = { open: 32, perAddress: 4 };

let opened = 0;
const byAddress = new Map<string, number>();

type Catalog = NonNullable<ConsoleApi['history']>;

function answer(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), 'Cache-Control': 'no-store', ...headers });
  res.end(text);
}

/**
 * `bytes=A-B`, `bytes=A-`, `bytes=-N` of a file of `size` bytes: the inclusive range, `null`
 * when it cannot be met (416), undefined when the header is absent or asks for several
 * ranges (the whole file is sent, as RFC 9110 allows).
 */
export function parseRange(header: string | undefined, size: number): { start: number; end: number } | null | undefined {
  if (header === undefined) return undefined;
  const m = /^bytes=(\d{0,15})-(\d{0,15})$/.exec(header.trim());
  if (!m) return header.includes(',') ? undefined : null;
  const [a, b] = [m[1]!, m[2]!];
  if (a === '' && b === '') return null;
  if (a === '') {
    const n = Number(b);
    return n === 0 || size === 0 ? null : { start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(a);
  const end = b === '' ? size - 1 : Math.min(Number(b), size - 1);
  return start >= size || end < start ? null : { start, end };
}

/** The listing, or one file of it (any other name is 404: nothing outside the listing is ever opened). */
export async function serveHistory(req: http.IncomingMessage, res: http.ServerResponse, history: Catalog, name: string | undefined): Promise<void> {
  if (req.method !== 'GET' && req.method !== 'HEAD') return answer(res, 405, { error: 'history takes GET' }, { Allow: 'GET, HEAD' });
  if (name === undefined) return answer(res, 200, { files: history.files() });
  const path = history.pathOf(name);
  if (path === undefined) return answer(res, 404, { error: `no recording named ${JSON.stringify(name.slice(0, 100))}: GET …/history lists them` });
  const address = req.socket.remoteAddress ?? '?';
  const mine = byAddress.get(address) ?? 0;
  if (opened >= HISTORY_LIMITS.open || mine >= HISTORY_LIMITS.perAddress) {
    return answer(
      res,
      503,
      { error: `too many recordings being sent at once (at most ${HISTORY_LIMITS.perAddress} per address, ${HISTORY_LIMITS.open} in all): try again` },
      { 'Retry-After': '1' },
    );
  }
  opened++;
  byAddress.set(address, mine + 1);
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    opened--;
    const n = (byAddress.get(address) ?? 1) - 1;
    if (n) byAddress.set(address, n);
    else byAddress.delete(address);
  };
  let fh: Awaited<ReturnType<typeof open>> | undefined;
  try {
    fh = await open(path, 'r');
    // The newest file grows: it is sent as it is now.
    const size = (await fh.stat()).size;
    const range = parseRange(req.headers.range, size);
    const headers: Record<string, string> = {
      'Content-Type': 'application/x-asciicast',
      'Accept-Ranges': 'bytes',
      'Cache-Control': 'no-store',
      'Content-Disposition': `inline; filename="${name}"`,
    };
    if (range === null) {
      await fh.close();
      release();
      res.writeHead(416, { ...headers, 'Content-Range': `bytes */${size}`, 'Content-Length': '0' });
      return void res.end();
    }
    const { start, end } = range ?? { start: 0, end: size - 1 };
    const length = Math.max(0, end - start + 1);
    res.writeHead(range ? 206 : 200, { ...headers, 'Content-Length': String(length), ...(range ? { 'Content-Range': `bytes ${start}-${end}/${size}` } : {}) });
    if (req.method === 'HEAD' || length === 0) {
      await fh.close();
      release();
      return void res.end();
    }
    const stream = fh.createReadStream({ start, end, autoClose: true });
    fh = undefined; // the stream owns it now
    stream.once('close', release);
    res.once('close', () => stream.destroy());
    stream.once('error', () => res.destroy());
    stream.pipe(res);
  } catch (err) {
    await fh?.close().catch(() => {});
    release();
    if (!res.headersSent)
      answer(res, (err as NodeJS.ErrnoException).code === 'ENOENT' ? 404 : 500, {
        error: `${name}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
      });
    else res.destroy();
  }
}

// The index of a shared ws-listen server (GET /): its consoles, their device state and peers, each linking to its terminal page; a small script filters it and keeps it live.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ASSET_DIR, PAGE_HEADERS } from './http.js';
import { consoleHref, rowCells, type ConsoleJson } from './index-rows.js';

const ESC: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
const esc = (s: string) => s.replace(/[&<>"']/g, (c) => ESC[c]!);

function row(c: ConsoleJson): string {
  const t = rowCells(c);
  const link = c.web ? `<a href="${esc(consoleHref(c.path))}">${esc(t.title)}</a>` : esc(t.title);
  return `<tr data-path="${esc(c.path)}"><td>${link}</td><td><code>${esc(t.path)}</code></td><td>${esc(t.device)}</td><td class="${c.state === 'lost' ? 'lost' : 'ok'}">${esc(t.state)}</td><td>${esc(t.peers)}</td></tr>`;
}

/**
 * Rendered on the server, so that it reads without script; `_ptybridge/index.js` (same
 * origin, as the CSP wants) adds the filter, keyboard moves and live state. Every URL in it
 * is relative: the tree works under a reverse proxy's prefix.
 */
export function renderIndex(consoles: ConsoleJson[], host: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="dark">
<noscript><meta http-equiv="refresh" content="10"></noscript>
<title>ptybridge consoles on ${esc(host)}</title>
<link rel="icon" href="${ASSET_DIR}/favicon.svg" type="image/svg+xml">
<style>
body { margin: 1em; background: #111; color: #ddd; font: 14px system-ui, sans-serif; }
header { display: flex; gap: 1em; align-items: baseline; flex-wrap: wrap; }
h1 { font-size: 1.4em; margin: 0 0 .5em; } #count, #live { color: #888; font-size: .9em; }
input { background: #222; color: #ddd; border: 1px solid #444; padding: .3em .5em; min-width: 16em; font: inherit; }
table { border-collapse: collapse; } th, td { text-align: left; padding: .3em 1em .3em 0; border-bottom: 1px solid #333; }
a { color: #6af; } .ok { color: #3c3; } .lost { color: #c33; } #live.off { color: #c33; }
tr.sel { background: #223; outline: 1px solid #446; } tr[hidden] { display: none; }
</style>
</head>
<body>
<header><h1>Consoles</h1><input id="filter" type="search" placeholder="filter: name, path, device, lost… ( / )" autocomplete="off" aria-label="filter consoles" hidden><span id="count">${consoles.length} console${consoles.length === 1 ? '' : 's'}</span><span id="live"></span></header>
<table id="consoles">
<thead><tr><th>console</th><th>path</th><th>device</th><th>state</th><th>peers</th></tr></thead>
<tbody>
${consoles.map(row).join('\n')}
</tbody>
</table>
<script src="${ASSET_DIR}/index.js" defer></script>
</body>
</html>
`;
}

function send(req: IncomingMessage, res: ServerResponse, type: string, text: string, headers: Record<string, string>): void {
  const body = Buffer.from(text);
  res.writeHead(200, { 'Content-Type': type, 'Content-Length': String(body.length), 'Cache-Control': 'no-store', ...PAGE_HEADERS, ...headers });
  res.end(req.method === 'HEAD' ? undefined : body);
}

export function serveIndex(req: IncomingMessage, res: ServerResponse, consoles: ConsoleJson[], headers: Record<string, string>): void {
  send(req, res, 'text/html; charset=utf-8', renderIndex(consoles, String(req.headers.host ?? '')), headers);
}

/** The index page's live state (`_ptybridge/consoles.json`), behind the same gate as the page. */
export function serveConsolesJson(req: IncomingMessage, res: ServerResponse, consoles: ConsoleJson[], headers: Record<string, string>): void {
  send(req, res, 'application/json', JSON.stringify({ consoles }), headers);
}

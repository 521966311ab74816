// The index of a shared ws-listen server (GET /): its consoles, their device state and peer counts, each linking to its terminal page.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RouteStatus } from '../endpoints/types.js';
import { PAGE_HEADERS } from './http.js';

export interface ConsoleEntry {
  path: string;
  /** The route's name in the config file, when it has one. */
  name?: string;
  /** Whether the path serves a terminal page (`?web=off`: a WebSocket only, no link). */
  web: boolean;
  status: RouteStatus;
}

const ESC: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
const esc = (s: string) => s.replace(/[&<>"']/g, (c) => ESC[c]!);

function row(c: ConsoleEntry): string {
  const title = esc(c.name ?? c.path);
  const link = c.web ? `<a href="${esc(c.path)}">${title}</a>` : title;
  const d = c.status.device;
  const state = d ? (d.open ? 'open' : 'lost') : 'per peer';
  // Named peers only (users file, trusted proxy): an address says little and shows who is where.
  const names = c.status.who?.flatMap((w) => (w.name === undefined ? [] : [`${esc(w.name)} (${w.doing})`])).join(', ');
  const peers = `${c.status.peers} peer${c.status.peers === 1 ? '' : 's'}${names ? `: ${names}` : ''}`;
  return `<tr><td>${link}</td><td><code>${esc(c.path)}</code></td><td>${esc(d?.label ?? '')}</td><td class="${state === 'lost' ? 'lost' : 'ok'}">${state}</td><td>${peers}</td></tr>`;
}

/** The page is rendered on the server, with no script: it works wherever the terminal page's CSP does. */
export function renderIndex(consoles: ConsoleEntry[], host: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="dark">
<meta http-equiv="refresh" content="10">
<title>ptybridge consoles on ${esc(host)}</title>
<style>
body { margin: 1em; background: #111; color: #ddd; font: 14px system-ui, sans-serif; }
table { border-collapse: collapse; } th, td { text-align: left; padding: .3em 1em .3em 0; border-bottom: 1px solid #333; }
a { color: #6af; } .ok { color: #3c3; } .lost { color: #c33; }
</style>
</head>
<body>
<h1>Consoles</h1>
<table>
<thead><tr><th>console</th><th>path</th><th>device</th><th>state</th><th>peers</th></tr></thead>
<tbody>
${consoles.map(row).join('\n')}
</tbody>
</table>
</body>
</html>
`;
}

export function serveIndex(req: IncomingMessage, res: ServerResponse, consoles: ConsoleEntry[], headers: Record<string, string>): void {
  const body = Buffer.from(renderIndex(consoles, String(req.headers.host ?? '')));
  res.writeHead(200, {
    'Content-Type': 'text/html; charset=utf-8',
    'Content-Length': String(body.length),
    'Cache-Control': 'no-store',
    ...PAGE_HEADERS,
    ...headers,
  });
  res.end(req.method === 'HEAD' ? undefined : body);
}

// The browser terminal: xterm.js on a WebSocket to the ws-listen server that served this page.
/// <reference lib="dom" />
import { Terminal } from '@xterm/xterm';
import { FitAddon } from '@xterm/addon-fit';
import '@xterm/xterm/css/xterm.css';
import './terminal.css';

const statusEl = document.getElementById('status')!;
const params = new URLSearchParams(location.search);
// Read as the server reads it (src/uri.ts): percent-decoded, a `+` stays a plus (a base64 token keeps it).
const rawToken = /[?&]token=([^&#]*)/.exec(location.search)?.[1];
const token = rawToken === undefined ? null : (() => {
  try {
    return decodeURIComponent(rawToken);
  } catch {
    return rawToken;
  }
})();
if (token !== null) {
  // The server has put the token in a cookie; keep it out of the address bar and history.
  params.delete('token');
  const rest = params.toString();
  history.replaceState(null, '', location.pathname + (rest ? `?${rest}` : '') + location.hash);
}

const term = new Terminal({
  cursorBlink: true,
  scrollback: 5000,
  fontSize: window.innerWidth < 600 ? 12 : 14,
  fontFamily: 'ui-monospace, Menlo, Consolas, "DejaVu Sans Mono", monospace',
  theme: { background: '#111111' },
});
const fit = new FitAddon();
term.loadAddon(fit);
term.open(document.getElementById('term')!);
fit.fit();
term.focus();

const encoder = new TextEncoder();
let ws: WebSocket | undefined;
let delay = 500;
let timer: number | undefined;

function setStatus(cls: 'connected' | 'connecting' | 'disconnected', text: string): void {
  statusEl.className = cls;
  statusEl.textContent = text;
  document.title = `${cls === 'connected' ? '' : '(' + cls + ') '}ptybridge ${location.host}`;
}

function sendResize(): void {
  if (ws?.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: 'resize', cols: term.cols, rows: term.rows }));
}

function connect(): void {
  const url = `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}${location.pathname}${token !== null ? `?token=${encodeURIComponent(token)}` : ''}`;
  setStatus('connecting', 'connecting…');
  const sock = new WebSocket(url);
  sock.binaryType = 'arraybuffer';
  ws = sock;
  sock.onopen = () => {
    delay = 500;
    setStatus('connected', 'connected');
    sendResize();
  };
  sock.onmessage = (ev: MessageEvent) => {
    if (typeof ev.data === 'string') return; // controls from the server: none yet
    term.write(new Uint8Array(ev.data as ArrayBuffer));
  };
  sock.onclose = (ev: CloseEvent) => {
    if (ws !== sock) return;
    ws = undefined;
    const secs = Math.round(delay / 100) / 10;
    setStatus('disconnected', `disconnected${ev.code !== 1000 && ev.code !== 1005 ? ` (${ev.code})` : ''}; retrying in ${secs} s`);
    timer = window.setTimeout(connect, delay);
    delay = Math.min(delay * 2, 10_000);
  };
}

term.onData((data) => {
  if (ws?.readyState === WebSocket.OPEN) ws.send(encoder.encode(data));
});
term.onBinary((data) => {
  if (ws?.readyState !== WebSocket.OPEN) return;
  const bytes = new Uint8Array(data.length);
  for (let i = 0; i < data.length; i++) bytes[i] = data.charCodeAt(i) & 0xff;
  ws.send(bytes);
});
term.onResize(sendResize);
term.onTitleChange((t) => {
  document.getElementById('title')!.textContent = t;
});
new ResizeObserver(() => fit.fit()).observe(document.getElementById('term')!);
window.addEventListener('resize', () => fit.fit());
// Reconnect at once when the phone wakes up or the network comes back.
window.addEventListener('online', () => {
  if (!ws && timer !== undefined) {
    clearTimeout(timer);
    connect();
  }
});

(window as unknown as { ptybridge: unknown }).ptybridge = { term, fit, socket: () => ws };
connect();

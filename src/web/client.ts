// The browser terminal: xterm.js on a WebSocket to the ws-listen server that served this page.
/// <reference lib="dom" />
import { Terminal } from '@xterm/xterm';
import { FitAddon } from '@xterm/addon-fit';
import '@xterm/xterm/css/xterm.css';
import './terminal.css';
import { serverMessage, type PageMessage } from '../core/control-protocol.js';
import { AckTally } from '../core/credit-window.js';
import type { KeyboardState } from '../core/roles.js';
import { keepToken, pageToken } from './page-token.js';
import { startHistoryView } from './history-view.js';
import { terminalLook } from './terminal-look.js';

const statusEl = document.getElementById('status')!;
const keyboardEl = document.getElementById('keyboard')!;
const badgeEl = document.getElementById('badge')!;
const holderEl = document.getElementById('holder')!;
const watchingEl = document.getElementById('watching')!;
const takeEl = document.getElementById('take') as HTMLButtonElement;
const tokenForm = document.getElementById('token-form') as HTMLFormElement;
// The page presents its token on its socket itself (src/web/page-token.ts): no cookie, which
// every port of the host would receive.
const token = pageToken();

/** The subprotocols that carry the token: `ptybridge-token.` + base64url of its UTF-8 bytes (src/web/auth.ts). */
function protocols(): string[] {
  if (token === null) return ['ptybridge'];
  let bin = '';
  for (const b of new TextEncoder().encode(token)) bin += String.fromCharCode(b);
  return ['ptybridge', `ptybridge-token.${btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')}`];
}

// No token yet: the box asks for it (pasting it keeps it out of the browser's history,
// where even a #fragment of an address opened stays).
tokenForm.addEventListener('submit', (e) => {
  e.preventDefault();
  keepToken((tokenForm.elements.namedItem('token') as HTMLInputElement).value.trim());
  location.reload();
});

// The terminal sits below the bar (terminal.css): it follows the bar's height, which its
// buttons and a narrow window can change.
const barEl = document.getElementById('bar')!;
const followBar = () => document.documentElement.style.setProperty('--bar-height', `${barEl.offsetHeight}px`);
followBar();
new ResizeObserver(followBar).observe(barEl);

const term = new Terminal({ ...terminalLook(), cursorBlink: true });
const fit = new FitAddon();
term.loadAddon(fit);
term.open(document.getElementById('term')!);
fit.fit();
term.focus();

// One shell per tab that outlives a reload: the server names the session, the tab keeps its
// name in sessionStorage (a new tab starts without one, a reload or reconnect presents it).
const sessionKey = `ptybridge-session:${location.pathname}`;
let session = '';
try {
  session = sessionStorage.getItem(sessionKey) ?? '';
} catch {}

const encoder = new TextEncoder();
let ws: WebSocket | undefined;
let delay = 500;
let timer: number | undefined;
/** The far side is not a terminal (notATerminal): no reconnecting. */
let stopped = false;

function setStatus(cls: 'connected' | 'connecting' | 'disconnected', text: string): void {
  statusEl.className = cls;
  statusEl.textContent = text;
  document.title = `${cls === 'connected' ? '' : '(' + cls + ') '}ptybridge ${location.host}`;
}

/** The badge (watching / typing / read-only), who holds the keyboard, how many watch, and the button. */
function showKeyboard(s: KeyboardState | undefined): void {
  keyboardEl.hidden = s === undefined;
  if (!s) return;
  badgeEl.className = s.you;
  badgeEl.textContent = s.you === 'read-only' ? 'read-only' : s.you;
  badgeEl.title = s.name ? `you are ${s.name}` : '';
  holderEl.textContent =
    s.policy !== 'exclusive'
      ? ''
      : s.holder === undefined
        ? 'nobody has the keyboard'
        : s.you === 'typing'
          ? 'you have the keyboard'
          : `${s.holder} has the keyboard`;
  watchingEl.textContent = `${s.watching} watching`;
  // Under exclusive a peer that may type takes the keyboard, or lets it go.
  takeEl.hidden = s.policy !== 'exclusive' || s.you === 'read-only';
  takeEl.textContent = s.you === 'typing' ? 'let go' : 'take the keyboard';
  takeEl.dataset.request = s.you === 'typing' ? 'release' : 'take';
}

/** A JSON control to the server, in the shape src/core/control-protocol.ts gives it. */
function sendControl(sock: WebSocket | undefined, msg: PageMessage): void {
  if (sock?.readyState === WebSocket.OPEN) sock.send(JSON.stringify(msg));
}

takeEl.addEventListener('click', () => {
  sendControl(ws, { type: takeEl.dataset.request === 'release' ? 'release' : 'take' });
  term.focus();
});

function sendResize(): void {
  sendControl(ws, { type: 'resize', cols: term.cols, rows: term.rows });
}

/**
 * Flow control by credits (src/core/credit-window.ts): the page announces a window on its
 * socket and acknowledges the output once xterm.js has parsed it (its write callbacks); the
 * server never has more than the window sent and unacknowledged. A flood then waits in the
 * shell (blocked writing), not in the socket's buffers, Chromium's queue or this tab's memory
 * (xterm.js throws away writes past 50 MB).
 * The window trades a key's echo against throughput: the echo waits behind what is in flight
 * (window / parse rate, some 3 MB/s at 200x60), and a deep window rides out the moments the
 * server or the shell is not scheduled. So the page watching output asks for FLOW_WINDOW, and
 * while someone types (a key within TYPING_MS) for TYPING_WINDOW. TYPING_MS is short because the
 * Enter that starts a command is a key too: held for 2 s, the small window slowed the first 2 s of
 * every flood a command started (`cat` of a 50 MB log drew ~13 % slower, bench/browser-output.mjs
 * with PTYB_BENCH_START=socket), while keys typed during a flood come well within 500 ms of each other.
 */
const FLOW_WINDOW = 1024 * 1024;
const TYPING_WINDOW = 128 * 1024;
const TYPING_MS = 500;
/** Acknowledged in batches of an eighth of the window (and the rest whenever everything handed over is parsed). */
const ackEvery = (bytes: number) => bytes / 8;
/** The window announced on the current socket. */
let flowWindow = FLOW_WINDOW;
let typingTimer: number | undefined;
/** Each socket's tally of parsed output, to ack in batches of its window. */
const tallies = new WeakMap<WebSocket, AckTally>();

/** Asks for `window` on the current socket (a change only). */
function announceWindow(bytes: number): void {
  if (bytes === flowWindow) return;
  flowWindow = bytes;
  sendControl(ws, { type: 'credit', window: bytes });
  const tally = ws && tallies.get(ws);
  if (tally) tally.every = ackEvery(bytes);
}

/** A key: the typing window now, the watching one once no key came for TYPING_MS. */
function typed(): void {
  announceWindow(TYPING_WINDOW);
  clearTimeout(typingTimer);
  typingTimer = window.setTimeout(() => announceWindow(FLOW_WINDOW), TYPING_MS);
}

function connect(): void {
  const query = new URLSearchParams();
  query.set('session', session);
  const url = `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}${location.pathname}?${query}`;
  setStatus('connecting', 'connecting…');
  const sock = new WebSocket(url, protocols());
  let opened = false;
  sock.binaryType = 'arraybuffer';
  ws = sock;
  sock.onopen = () => {
    opened = true;
    tokenForm.hidden = true;
    // What the server sends first is the whole screen (or its replay): start clean, so
    // that a reconnect does not write it below what this page already shows.
    term.reset();
    delay = 500;
    setStatus('connected', 'connected');
    // First: the window, so the server counts everything from the first byte against it.
    sendControl(sock, { type: 'credit', window: flowWindow });
    sendResize();
    // Ask the hub (if this is one) for the keyboard state: the badge.
    sendControl(sock, { type: 'keyboard' });
  };
  let first = true;
  // Per socket: a new socket announces its window afresh, and the callbacks of an old one's
  // writes count only on its own tally, so an ack never goes to a socket for bytes it did not send.
  const tally = new AckTally(ackEvery(flowWindow));
  tallies.set(sock, tally);
  sock.onmessage = (ev: MessageEvent) => {
    if (typeof ev.data === 'string') return control(ev.data);
    const bytes = new Uint8Array(ev.data as ArrayBuffer);
    if (first && ((first = false), notATerminal(bytes))) return;
    const n = bytes.length;
    tally.handed(n);
    term.write(bytes, () => {
      const ack = tally.done(n);
      if (ack > 0) sendControl(sock, { type: 'ack', bytes: ack });
    });
  };
  sock.onclose = (ev: CloseEvent) => {
    if (ws !== sock) return;
    ws = undefined;
    // Refused before it opened (a browser is not told why: no token, a wrong one, or down).
    if (!opened) tokenForm.hidden = false;
    showKeyboard(undefined);
    if (stopped) return;
    const secs = Math.round(delay / 100) / 10;
    setStatus('disconnected', `disconnected${ev.code !== 1000 && ev.code !== 1005 ? ` (${ev.code})` : ''}; retrying in ${secs} s`);
    timer = window.setTimeout(connect, delay);
    delay = Math.min(delay * 2, 10_000);
  };
}

/** Greetings of servers that are not terminals, and what opens them instead. */
const NOT_TERMINALS: [RegExp, string][] = [
  [/^RFB \d{3}\.\d{3}\n/, 'a VNC server: open it with noVNC (ws-listen:PORT/websockify?static=/usr/share/novnc serves it; then its vnc.html)'],
  [/^SSH-\d\.\d+-/, 'an SSH server: use an SSH client'],
];

/**
 * A route to a VNC or SSH server is not a terminal: say what it is instead of showing its
 * greeting as text, and stop (reconnecting would only say it again).
 */
function notATerminal(bytes: Uint8Array): boolean {
  const head = String.fromCharCode(...bytes.subarray(0, 64));
  const hit = NOT_TERMINALS.find(([re]) => re.test(head));
  if (!hit) return false;
  const said = head.split(/\r?\n/)[0]!;
  term.write(`\x1b[1mptybridge:\x1b[0m the far side of this route said "${said}": it is ${hit[1]}, not a terminal.\r\n`);
  stopped = true;
  ws?.close(1000);
  setStatus('disconnected', 'not a terminal');
  return true;
}

/** A JSON control from the server: the keyboard state (the badge), or the session this tab now owns. */
function control(text: string): void {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return;
  }
  const m = serverMessage.safeParse(json);
  if (!m.success) return;
  const c = m.data;
  if (c.type === 'keyboard') return showKeyboard(c);
  if (c.type === 'session') {
    session = c.id;
    try {
      sessionStorage.setItem(sessionKey, session);
    } catch {}
  }
}

term.onData((data) => {
  typed();
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

(window as unknown as { ptybridge: unknown }).ptybridge = {
  term,
  fit,
  socket: () => ws,
  flowWindow: () => flowWindow,
  flowWindows: { watching: FLOW_WINDOW, typing: TYPING_WINDOW },
};
connect();
// The history button and the page's mark button, when this console keeps a history (src/web/history-view.ts).
void startHistoryView({
  token,
  live: document.getElementById('term')!,
  bar: document.getElementById('bar')!,
  status: statusEl,
  mark: () => ws?.readyState === WebSocket.OPEN && (sendControl(ws, { type: 'mark' }), true),
  back: () => term.focus(),
});

// The terminal page's history view (docs/HISTORY.md, "In the page"): a time line of a console's recorded boot with its marks, the screen rebuilt at any point in a read-only xterm.js, play, search, copy, download; and the page's mark button.
/// <reference lib="dom" />
import { Terminal } from '@xterm/xterm';
import { terminalLook } from './terminal-look.js';
import './history-view.css';
import { bootsOf, type Boot, HistoryModel, type ListedFile, type Match, parseCastText } from './history-model.js';

export interface HistoryViewOptions {
  /** The page's token (null: the server asks for none). */
  token: string | null;
  /** The live terminal's element: covered (and made inert) while the history is shown. */
  live: HTMLElement;
  /** The bar the buttons go in. */
  bar: HTMLElement;
  /** The live socket's status: the history is asked for once it says `connected`. */
  status: HTMLElement;
  /** Sends the page's mark control on its live socket; false when the socket is not open. */
  mark: () => boolean;
  /** Back to live: the live terminal takes the keys again. */
  back: () => void;
}

/** Playing skips a silence longer than this (seconds at the chosen speed), as `asciinema play -i` does. */
const IDLE_SKIP = 2;
/** A pointer this close (px) to a mark on the time line lands on the mark itself. */
const SNAP_PX = 6;
/** Output handed to xterm.js at once while rebuilding a screen: the page stays responsive. */
const BATCH_CHARS = 256 * 1024;

const SPEEDS = { '1×': 1, '4×': 4, max: Infinity } as const;

function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: Partial<HTMLElementTagNameMap[K]> & { id?: string } = {},
  ...kids: (Node | string)[]
): HTMLElementTagNameMap[K] {
  const e = Object.assign(document.createElement(tag), props);
  e.append(...kids);
  return e;
}

const button = (id: string, text: string, title: string) => el('button', { id, type: 'button', textContent: text, title });

/**
 * The console this page is, among those the API lists: its path's last part (`/board1` →
 * `board1`), else the only console there is (a route alone on `/`, or a route named apart
 * from its path). Undefined when it cannot tell.
 */
function consoleName(consoles: string[]): string | undefined {
  let last = location.pathname.split('/').pop() ?? '';
  try {
    last = decodeURIComponent(last);
  } catch {}
  if (last && consoles.includes(last)) return last;
  return consoles.length === 1 ? consoles[0] : undefined;
}

/**
 * Resolves when the page's socket is first open: its credential is good, so asking for the
 * history then makes no refusal in the log (a page without its token yet asks for none).
 */
function connected(status: HTMLElement): Promise<void> {
  return new Promise((resolve) => {
    const check = () => {
      if (!status.classList.contains('connected')) return;
      watch.disconnect();
      resolve();
    };
    const watch = new MutationObserver(check);
    watch.observe(status, { attributes: true, attributeFilter: ['class'] });
    check();
  });
}

/**
 * Adds the history button and the mark button to the bar when the API's list names this
 * console among those that keep a history; a console without one shows neither.
 */
export async function startHistoryView(o: HistoryViewOptions): Promise<void> {
  const base = new URL('api/consoles', location.href).href;
  const headers: Record<string, string> = o.token === null ? {} : { Authorization: `Bearer ${o.token}` };
  await connected(o.status);
  // Which consoles keep a history: the API's list says (404 here: not a server with a console API).
  let kept: { consoles: string[]; history?: string[] };
  try {
    const r = await fetch(base, { headers, cache: 'no-store' });
    if (!r.ok) return;
    kept = (await r.json()) as typeof kept;
  } catch {
    return;
  }
  const name = consoleName(kept.consoles ?? []);
  if (name === undefined || !kept.history?.includes(name)) return;
  // `_` names a route alone on `/`, whose API answers to any name.
  const api = `${base}/${encodeURIComponent(name || '_')}/history`;
  const list = async (): Promise<ListedFile[] | undefined> => {
    try {
      const r = await fetch(api, { headers, cache: 'no-store' });
      if (!r.ok) return undefined;
      return ((await r.json()) as { files: ListedFile[] }).files;
    } catch {
      return undefined;
    }
  };

  const openEl = button('history-open', 'history', "this console's recorded boots: time line, search, download (read-only)");
  const markEl = button('mark', 'mark', 'mark this moment in the history (seen by everyone who looks back)');
  const buttons = el('span', { id: 'history-buttons' }, markEl, openEl);
  o.bar.insertBefore(buttons, document.getElementById('keyboard'));
  markEl.addEventListener('click', () => {
    markEl.textContent = o.mark() ? 'marked' : 'not connected: not marked';
    setTimeout(() => (markEl.textContent = 'mark'), 1500);
  });

  // The panel: controls, the time line, the screen.
  const bootEl = el('select', { id: 'history-boot', title: 'which boot' });
  const liveEl = button('history-live', 'back to live', 'the live console again');
  const playEl = button('history-play', '▶', 'play from here');
  const speedEl = el('select', { id: 'history-speed', title: 'speed' }, ...Object.keys(SPEEDS).map((s) => el('option', { value: s, textContent: s })));
  const timeEl = el('span', { id: 'history-time' });
  const searchEl = el('input', { id: 'history-search', type: 'search', placeholder: 'search', autocomplete: 'off' });
  const prevEl = button('history-prev', '↑', 'previous match');
  const nextEl = button('history-next', '↓', 'next match');
  const foundEl = el('span', { id: 'history-found' });
  const fromEl = button('history-from', 'from here', 'the copy range starts here');
  const toEl = button('history-to', 'to here', 'the copy range ends here');
  const copyEl = button('history-copy', 'copy text', 'copy the text printed in the range');
  const downloadEl = button('history-download', 'download .cast', 'the recording this moment is in (asciicast v2: asciinema, ptybridge play)');
  const reloadEl = button('history-reload', '⟳', 'read the history again (the newest file grows)');
  const noteEl = el('span', { id: 'history-note' });
  const controls = el(
    'div',
    { id: 'history-controls' },
    liveEl,
    bootEl,
    reloadEl,
    playEl,
    speedEl,
    timeEl,
    searchEl,
    prevEl,
    nextEl,
    foundEl,
    fromEl,
    toEl,
    copyEl,
    downloadEl,
    noteEl,
  );
  const rangeEl = el('div', { className: 'range' });
  const cursorEl = el('div', { className: 'cursor' });
  const ticksEl = el('div', { className: 'ticks' });
  const lineEl = el('div', { id: 'history-line', tabIndex: 0, title: 'drag or click: the screen as it was then; ←/→ one event' }, rangeEl, ticksEl, cursorEl);
  const screenEl = el('div', { id: 'history-term' });
  const panel = el('div', { id: 'history', hidden: true }, controls, lineEl, screenEl);
  document.body.append(panel);

  const term = new Terminal({ ...terminalLook(), disableStdin: true, cursorBlink: false });
  term.open(screenEl);

  let boots: Boot[] = [];
  let model = new HistoryModel([]);
  let bootIndex = -1;
  /** The listing of the boot shown, as it was read: the same listing again needs no new read. */
  let loaded = '';
  /** Events applied to `term`, and the position asked for. */
  let applied = 0;
  let target = 0;
  let writing = false;
  let generation = 0;
  let matches: Match[] = [];
  let matchIndex = -1;
  let range: [number, number] | undefined;
  let playing = false;
  let playTimer: number | undefined;
  const state = (s: 'loading' | 'busy' | 'ready' | 'failed') => (panel.dataset.state = s);

  function note(text: string): void {
    noteEl.textContent = text;
  }

  const xOf = (position: number) => (model.duration > 0 ? model.timeAt(position) / model.duration : position > 0 ? 1 : 0);
  const pct = (f: number) => `${(Math.max(0, Math.min(1, f)) * 100).toFixed(3)}%`;

  function tick(className: string, title: string, position: number): HTMLDivElement {
    const t = el('div', { className, title });
    t.style.left = pct(xOf(position));
    t.dataset.position = String(position);
    return t;
  }

  function drawTicks(): void {
    ticksEl.replaceChildren(
      ...model.marks.map((m) => tick(`tick ${m.kind}`, `${m.label} (+${m.t.toFixed(1)} s)`, m.position)),
      ...matches.map((m, i) => tick(`tick found${i === matchIndex ? ' current' : ''}`, m.line, m.position)),
    );
  }

  function drawCursor(): void {
    cursorEl.style.left = pct(xOf(target));
    rangeEl.hidden = range === undefined;
    if (range) {
      const [a, b] = [xOf(Math.min(...range)), xOf(Math.max(...range))];
      rangeEl.style.left = pct(a);
      rangeEl.style.width = pct(b - a);
    }
    const t = model.timeAt(target);
    timeEl.textContent = `${new Date(model.baseMs + t * 1000).toISOString().replace('T', ' ').slice(0, 23)}Z  +${t.toFixed(1)} s`;
    panel.dataset.position = String(target);
    lineEl.setAttribute('aria-valuenow', String(target));
  }

  /** Shows the screen at `position`: forward from what is shown, or again from the boot's start. */
  function seek(position: number): void {
    target = Math.max(0, Math.min(model.events.length, position));
    drawCursor();
    pump();
  }

  function pump(): void {
    if (writing) return;
    writing = true;
    if (target < applied) {
      // Again from the start: a reset queued behind what xterm.js has not parsed yet, then the size the boot began at.
      applied = 0;
      state('busy');
      term.write('\x1bc', () => {
        term.clear();
        term.resize(model.width, model.height);
        writing = false;
        pump();
      });
      return;
    }
    if (applied === target) {
      writing = false;
      state('ready');
      return;
    }
    state('busy');
    let out = '';
    while (applied < target && out.length < BATCH_CHARS) {
      const e = model.events[applied]!;
      if (e.code === 'r') {
        // A resize waits for the output before it to be parsed at the old size.
        if (out) break;
        const m = /^(\d+)x(\d+)$/.exec(e.data);
        if (m) term.resize(Math.max(1, Number(m[1])), Math.max(1, Number(m[2])));
      } else if (e.code === 'o') out += e.data;
      applied++;
    }
    term.write(out, () => {
      writing = false;
      pump();
    });
  }

  /** The position under the pointer, or the mark beside it. */
  function positionAtX(clientX: number): number {
    const box = lineEl.getBoundingClientRect();
    const f = Math.max(0, Math.min(1, (clientX - box.left) / Math.max(1, box.width)));
    let best: number | undefined;
    let bestPx = SNAP_PX + 1;
    for (const m of [...model.marks, ...matches]) {
      const px = Math.abs(xOf(m.position) * box.width - (clientX - box.left));
      if (px < bestPx) [best, bestPx] = [m.position, px];
    }
    return best ?? model.positionAt(f * model.duration);
  }

  let dragging = false;
  lineEl.addEventListener('pointerdown', (e) => {
    dragging = true;
    lineEl.setPointerCapture(e.pointerId);
    pause();
    seek(positionAtX(e.clientX));
  });
  lineEl.addEventListener('pointermove', (e) => {
    if (dragging) seek(positionAtX(e.clientX));
  });
  const endDrag = () => (dragging = false);
  lineEl.addEventListener('pointerup', endDrag);
  lineEl.addEventListener('pointercancel', endDrag);
  lineEl.addEventListener('keydown', (e) => {
    if (e.key === 'ArrowLeft' || e.key === 'ArrowRight') {
      e.preventDefault();
      pause();
      seek(target + (e.key === 'ArrowLeft' ? -1 : 1));
    } else if (e.key === 'Home' || e.key === 'End') {
      e.preventDefault();
      seek(e.key === 'Home' ? 0 : model.events.length);
    }
  });

  function pause(): void {
    playing = false;
    clearTimeout(playTimer);
    playEl.textContent = '▶';
    playEl.title = 'play from here';
  }

  function play(): void {
    if (target >= model.events.length) seek(0);
    playing = true;
    playEl.textContent = '❚❚';
    playEl.title = 'pause';
    let clock = model.timeAt(target);
    let wall = performance.now();
    const step = () => {
      if (!playing) return;
      const speed = SPEEDS[speedEl.value as keyof typeof SPEEDS] ?? 1;
      if (target >= model.events.length) return pause();
      if (speed === Infinity) {
        // As fast as xterm.js parses: the next batch once the last one is shown.
        if (!writing) seek(target + 2000);
      } else {
        const now = performance.now();
        clock += ((now - wall) / 1000) * speed;
        wall = now;
        const next = model.events[target]!.t;
        if (next - clock > IDLE_SKIP * speed) clock = next - IDLE_SKIP * speed;
        seek(model.positionAt(clock));
      }
      playTimer = window.setTimeout(step, 40);
    };
    step();
  }

  playEl.addEventListener('click', () => (playing ? pause() : play()));

  /** Shows the match: the timeline moves to it, and the screen scrolls to its line, selected. */
  function land(i: number): void {
    if (!matches.length) return;
    matchIndex = (i + matches.length) % matches.length;
    const m = matches[matchIndex]!;
    foundEl.textContent = `${matchIndex + 1} of ${matches.length}`;
    pause();
    drawTicks();
    seek(m.position);
    const mine = generation;
    const show = () => {
      if (mine !== generation || target !== m.position) return; // moved elsewhere meanwhile
      if (panel.dataset.state !== 'ready') return void setTimeout(show, 20);
      const q = searchEl.value.toLowerCase();
      const b = term.buffer.active;
      for (let row = b.length - 1; row >= 0; row--) {
        const text = b.getLine(row)?.translateToString(true) ?? '';
        const col = text.toLowerCase().indexOf(q);
        if (col < 0) continue;
        if (row < b.viewportY || row >= b.viewportY + term.rows) term.scrollToLine(Math.max(0, row - (term.rows >> 1)));
        term.select(col, row, q.length);
        break;
      }
    };
    show();
  }

  function search(): void {
    matches = model.search(searchEl.value);
    matchIndex = -1;
    foundEl.textContent = searchEl.value ? (matches.length ? `${matches.length} found` : 'not found') : '';
    drawTicks();
    if (!matches.length) return;
    // The first match at or after the moment shown, else the first.
    const i = matches.findIndex((m) => m.position >= target);
    land(Math.max(i, 0));
  }

  searchEl.addEventListener('keydown', (e) => {
    if (e.key !== 'Enter') return;
    e.preventDefault();
    if (matchIndex >= 0 && matches.length) land(matchIndex + (e.shiftKey ? -1 : 1));
    else search();
  });
  searchEl.addEventListener('input', () => {
    matches = [];
    matchIndex = -1;
    foundEl.textContent = '';
    drawTicks();
  });
  nextEl.addEventListener('click', () => (matchIndex < 0 ? search() : land(matchIndex + 1)));
  prevEl.addEventListener('click', () => (matchIndex < 0 ? search() : land(matchIndex - 1)));

  fromEl.addEventListener('click', () => {
    range = [target, range?.[1] ?? model.events.length];
    drawCursor();
  });
  toEl.addEventListener('click', () => {
    range = [range?.[0] ?? 0, target];
    drawCursor();
  });
  copyEl.addEventListener('click', async () => {
    const [a, b] = range ?? [0, target];
    const text = model.textBetween(a, b);
    panel.dataset.copied = text;
    try {
      await navigator.clipboard.writeText(text);
      note(`copied ${text.split('\n').length - 1} lines`);
    } catch {
      // No clipboard for the page (plain http to another host): the text is selected in a box to copy by hand.
      const box = el('textarea', { value: text, readOnly: true, className: 'copy-box' });
      box.addEventListener('blur', () => box.remove());
      panel.append(box);
      box.select();
      note('press Ctrl+C to copy');
    }
  });

  downloadEl.addEventListener('click', async () => {
    const f = boots[bootIndex]?.files[model.fileAt(target)];
    if (!f) return;
    try {
      const r = await fetch(`${api}/${encodeURIComponent(f.name)}`, { headers, cache: 'no-store' });
      if (!r.ok) throw new Error(`${r.status} ${r.statusText}`);
      const url = URL.createObjectURL(await r.blob());
      const a = el('a', { href: url, download: f.name });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60_000);
    } catch (err) {
      note(`${f.name}: ${(err as Error).message}`);
    }
  });

  /** Reads a boot's files and shows its last moment. */
  async function loadBoot(i: number): Promise<void> {
    pause();
    const mine = ++generation;
    bootIndex = i;
    state('loading');
    note('reading…');
    const boot = boots[i];
    loaded = JSON.stringify(boot?.files);
    try {
      const casts = [];
      for (const f of boot?.files ?? []) {
        const r = await fetch(`${api}/${encodeURIComponent(f.name)}`, { headers, cache: 'no-store' });
        if (r.status === 404) continue; // removed by ?history-max meanwhile
        if (!r.ok) throw new Error(`${f.name}: ${r.status} ${r.statusText}`);
        casts.push(parseCastText(await r.text()));
      }
      if (mine !== generation) return;
      model = new HistoryModel(casts, boot ? Date.parse(boot.start) : 0);
      note(model.events.length ? '' : 'nothing recorded yet');
    } catch (err) {
      if (mine !== generation) return;
      loaded = '';
      model = new HistoryModel([]);
      note((err as Error).message);
      state('failed');
    }
    // The next seek starts the screen again from this boot's start.
    applied = Number.POSITIVE_INFINITY;
    matches = searchEl.value ? model.search(searchEl.value) : [];
    matchIndex = -1;
    foundEl.textContent = matches.length ? `${matches.length} found` : '';
    range = undefined;
    drawTicks();
    seek(model.events.length);
  }

  async function reload(): Promise<void> {
    const now = await list();
    if (!now) {
      note('the history cannot be read now');
      state('failed');
      return;
    }
    boots = bootsOf(now);
    const keep = bootIndex >= 0 && bootIndex < boots.length - 1 ? bootIndex : boots.length - 1;
    bootEl.replaceChildren(
      ...boots.map((b, i) =>
        el('option', { value: String(i), textContent: `boot ${b.start.replace('T', ' ').slice(0, 19)}${i === boots.length - 1 ? ' (newest)' : ''}` }),
      ),
    );
    if (!boots.length) {
      note('no history for this console yet');
      model = new HistoryModel([]);
      drawTicks();
      seek(0);
      return;
    }
    bootEl.value = String(keep);
    // Opened again with nothing new recorded: what is shown stays (reading a boot again is seconds for 16 MiB).
    if (keep === bootIndex && JSON.stringify(boots[keep]!.files) === loaded) return;
    await loadBoot(keep);
  }

  bootEl.addEventListener('change', () => void loadBoot(Number(bootEl.value)));
  reloadEl.addEventListener('click', () => void reload());

  function show(on: boolean): void {
    panel.hidden = !on;
    // The live terminal keeps its size (it is covered, not hidden: hiding it would resize the
    // device) and cannot take a key while the history is shown: the history never types.
    o.live.inert = on;
    openEl.classList.toggle('on', on);
    if (on) {
      panel.style.top = `${o.bar.offsetHeight}px`;
      (document.activeElement as HTMLElement | null)?.blur();
      lineEl.focus();
      void reload();
    } else {
      pause();
      o.back();
    }
  }
  openEl.addEventListener('click', () => show(panel.hidden));
  liveEl.addEventListener('click', () => show(false));
  window.addEventListener('resize', () => {
    if (!panel.hidden) panel.style.top = `${o.bar.offsetHeight}px`;
  });

  (window as unknown as { ptybridgeHistory: unknown }).ptybridgeHistory = {
    term,
    model: () => model,
    show,
  };
}

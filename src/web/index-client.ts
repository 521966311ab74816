// The console index in the browser: a filter box, keyboard moves (/ j k ↑ ↓ Enter Esc) and live state from _ptybridge/consoles.json, without a reload.
/// <reference lib="dom" />
import { consoleHref, rowCells, type ConsoleJson } from './index-rows.js';
import { pageToken } from './page-token.js';

const POLL_MS = 2000;
const filter = document.getElementById('filter') as HTMLInputElement;
const tbody = document.querySelector('#consoles tbody') as HTMLTableSectionElement;
const count = document.getElementById('count')!;
const live = document.getElementById('live')!;

// consoles.json is asked for with the token the tab keeps (src/web/page-token.ts), no cookie.
const token = pageToken();

filter.hidden = false;
let selected: HTMLTableRowElement | undefined;

function rows(): HTMLTableRowElement[] {
  return [...tbody.rows];
}

function visible(): HTMLTableRowElement[] {
  return rows().filter((r) => !r.hidden);
}

/** Every word typed must appear somewhere in the row (name, path, device, state, peers). */
function applyFilter(): void {
  const words = filter.value.toLowerCase().split(/\s+/).filter(Boolean);
  for (const r of rows()) {
    const text = (r.textContent ?? '').toLowerCase();
    r.hidden = !words.every((w) => text.includes(w));
  }
  const shown = visible().length;
  const all = tbody.rows.length;
  count.textContent = `${shown === all ? '' : `${shown} of `}${all} console${all === 1 ? '' : 's'}`;
  if (selected?.hidden) select(undefined);
}

function select(r: HTMLTableRowElement | undefined): void {
  selected?.classList.remove('sel');
  selected = r;
  if (!r) return;
  r.classList.add('sel');
  r.scrollIntoView({ block: 'nearest' });
}

function move(by: number): void {
  const list = visible();
  if (!list.length) return;
  const i = selected ? list.indexOf(selected) : -1;
  select(list[Math.max(0, Math.min(list.length - 1, i < 0 ? (by > 0 ? 0 : list.length - 1) : i + by))]);
}

function open(r: HTMLTableRowElement | undefined): void {
  const a = r?.querySelector('a');
  if (a) location.href = a.href;
}

filter.addEventListener('input', applyFilter);
document.addEventListener('keydown', (e) => {
  if (e.altKey || e.ctrlKey || e.metaKey) return;
  const inFilter = document.activeElement === filter;
  if (e.key === '/' && !inFilter) {
    e.preventDefault();
    filter.focus();
    filter.select();
  } else if (e.key === 'ArrowDown' || (e.key === 'j' && !inFilter)) {
    e.preventDefault();
    if (inFilter) filter.blur();
    move(1);
  } else if (e.key === 'ArrowUp' || (e.key === 'k' && !inFilter)) {
    e.preventDefault();
    move(-1);
  } else if (e.key === 'Enter') {
    // In the filter, Enter opens the selected console, or the first one shown.
    if (selected || inFilter) {
      e.preventDefault();
      open(selected ?? visible()[0]);
    }
  } else if (e.key === 'Escape') {
    filter.value = '';
    applyFilter();
    filter.blur();
  }
});
tbody.addEventListener('click', (e) => {
  const r = (e.target as Element).closest('tr');
  if (r && !(e.target as Element).closest('a')) select(r as HTMLTableRowElement);
});

function cell(text: string, cls?: string): HTMLTableCellElement {
  const td = document.createElement('td');
  td.textContent = text;
  if (cls) td.className = cls;
  return td;
}

/** A row as the server renders it (src/web/index-page.ts), built with DOM calls: no HTML from data. */
function render(c: ConsoleJson): HTMLTableRowElement {
  const t = rowCells(c);
  const tr = document.createElement('tr');
  tr.dataset.path = c.path;
  const first = document.createElement('td');
  if (c.web) {
    const a = document.createElement('a');
    a.href = consoleHref(c.path);
    a.textContent = t.title;
    first.append(a);
  } else first.textContent = t.title;
  const code = document.createElement('code');
  code.textContent = t.path;
  const path = document.createElement('td');
  path.append(code);
  tr.append(first, path, cell(t.device), cell(t.state, c.state === 'lost' ? 'lost' : 'ok'), cell(t.peers));
  return tr;
}

/** Replaces the rows whose content changed, adds new consoles and drops gone ones, keeping the selection. */
function update(list: ConsoleJson[]): void {
  const old = new Map(rows().map((r) => [r.dataset.path!, r]));
  let before: HTMLTableRowElement | null = null;
  for (const c of [...list].reverse()) {
    const fresh = render(c);
    const r = old.get(c.path);
    old.delete(c.path);
    let keep = fresh;
    if (r && r.innerHTML === fresh.innerHTML) keep = r;
    else if (r) {
      if (r === selected) selected = fresh;
      if (r.classList.contains('sel')) fresh.classList.add('sel');
      r.replaceWith(fresh);
    }
    if (keep.nextElementSibling !== before || keep.parentNode !== tbody) tbody.insertBefore(keep, before);
    before = keep;
  }
  for (const r of old.values()) r.remove();
  applyFilter();
}

async function poll(): Promise<void> {
  if (!document.hidden) {
    try {
      const res = await fetch('_ptybridge/consoles.json', {
        cache: 'no-store',
        credentials: 'omit',
        headers: token === null ? {} : { Authorization: `Bearer ${token}` },
      });
      if (!res.ok) throw new Error(String(res.status));
      update(((await res.json()) as { consoles: ConsoleJson[] }).consoles);
      live.textContent = 'live';
      live.className = '';
    } catch (err) {
      live.textContent = `not updating (${(err as Error).message})`;
      live.className = 'off';
    }
  }
  setTimeout(() => void poll(), POLL_MS);
}

applyFilter();
void poll();

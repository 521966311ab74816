// The token a page keeps in its tab (sessionStorage), by directory as a cookie's Path would be: two servers behind one proxy (/a/, /b/) keep theirs apart.
/// <reference lib="dom" />

const PREFIX = 'ptybridge-token:';

/** `/a/console/vm1` → `/a/console/`: where a token given on this page applies. */
const dirOf = (pathname: string) => pathname.slice(0, pathname.lastIndexOf('/') + 1);

/** Keeps `token` for this page's directory and below. */
export function keepToken(token: string): void {
  try {
    sessionStorage.setItem(PREFIX + dirOf(location.pathname), token);
  } catch {}
}

/**
 * The token of this page: from its address (`#token=`, never sent to a server, or `?token=`
 * of older links; then taken out of the address bar without a new history entry), else the
 * one kept for the nearest directory above it (the index at /a/ gave it to /a/console/vm1).
 * Null when none: the page asks for it.
 */
export function pageToken(): string | null {
  const found = /(?:^|[?&#])token=([^&#]*)/.exec(location.hash.slice(1))?.[1] ?? /[?&]token=([^&#]*)/.exec(location.search)?.[1];
  if (found !== undefined) {
    // Read as the server reads it (src/uri.ts): percent-decoded, a `+` stays a plus.
    let t = found;
    try {
      t = decodeURIComponent(found);
    } catch {}
    keepToken(t);
    const params = new URLSearchParams(location.search);
    params.delete('token');
    const rest = params.toString();
    history.replaceState(null, '', location.pathname + (rest ? `?${rest}` : ''));
    return t;
  }
  try {
    for (let dir = dirOf(location.pathname); dir !== ''; dir = dirOf(dir.slice(0, -1))) {
      const t = sessionStorage.getItem(PREFIX + dir);
      if (t !== null) return t;
    }
  } catch {}
  return null;
}

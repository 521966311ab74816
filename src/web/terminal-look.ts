// How the page's terminals look: the live one and the history view's share it, so a fix to one is a fix to both.

/** xterm.js options both terminals take (a function: the font size follows the window when it is made). */
export function terminalLook() {
  return {
    scrollback: 5000,
    fontSize: window.innerWidth < 600 ? 12 : 14,
    fontFamily: 'ui-monospace, Menlo, Consolas, "DejaVu Sans Mono", monospace',
    // At 1x pixel ratio the DOM renderer's cell (the font's ascent + descent) ends above where
    // DejaVu Sans Mono draws `_`, so underscores vanished: a taller row keeps the stroke inside it.
    lineHeight: 1.15,
    theme: { background: '#111111' },
  };
}

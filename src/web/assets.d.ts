// Types of the module scripts/bundle.mjs generates: the terminal page and its assets, as text.
declare module 'ptybridge:web-assets' {
  /** By file name ("index.html", "terminal.js", "terminal.css", "index.js": the console index's script): MIME type and content. */
  export const assets: Record<string, { type: string; body: string }>;
}

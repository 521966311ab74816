// Checks that every relative link in README.md, CONTRIBUTING.md and docs/*.md names a file that exists, and its #anchor a heading there.
// Usage: node scripts/check-links.mjs   (exit 1 and one line per broken link; used by test/unit/docs-links.test.ts)
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** Markdown with fenced blocks and inline code spans blanked out: a link written as code is not a link. */
function prose(text, spans = true) {
  const blocks = text.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, (m) => m.replace(/[^\n]/g, ' '));
  return spans ? blocks.replace(/(`+)[^`\n]*?\1/g, (m) => ' '.repeat(m.length)) : blocks;
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to dashes; repeats get -1, -2… */
function anchors(file) {
  const seen = new Map();
  const out = new Set();
  for (const line of prose(readFileSync(file, 'utf8'), false).split('\n')) {
    const explicit = line.matchAll(/<a\s+(?:id|name)="([^"]+)"/g);
    for (const [, id] of explicit) out.add(id);
    const h = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!h) continue;
    const text = h[1].replace(/\[([^\]]*)\]\([^)]*\)/g, '$1');
    const base = text
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n ? `${base}-${n}` : base);
  }
  return out;
}

export function checkLinks() {
  const files = [
    'README.md',
    'CONTRIBUTING.md',
    ...readdirSync(join(root, 'docs'))
      .filter((f) => f.endsWith('.md'))
      .map((f) => `docs/${f}`),
  ];
  const broken = [];
  const cache = new Map();
  for (const rel of files) {
    const file = join(root, rel);
    if (!existsSync(file)) continue;
    const lines = prose(readFileSync(file, 'utf8')).split('\n');
    lines.forEach((line, i) => {
      for (const [, target] of line.matchAll(/!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) {
        if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // http:, mailto:…: not ours to check offline
        const [path, anchor] = target.split('#', 2);
        const to = path ? resolve(dirname(file), decodeURIComponent(path)) : file;
        const where = `${rel}:${i + 1}: ${target}`;
        if (!existsSync(to)) {
          broken.push(`${where}: no file ${relative(root, to)}`);
          continue;
        }
        if (anchor === undefined || !to.endsWith('.md') || statSync(to).isDirectory()) continue;
        if (!cache.has(to)) cache.set(to, anchors(to));
        if (!cache.get(to).has(anchor)) broken.push(`${where}: no heading #${anchor} in ${relative(root, to)}`);
      }
    });
  }
  return { files, broken };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { files, broken } = checkLinks();
  for (const b of broken) console.error(b);
  if (broken.length) process.exit(1);
  console.log(`links: ${files.length} files, every relative link resolves`);
}

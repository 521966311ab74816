// Fails when src/ has an import circle: every arrow between modules must point down the layers (DESIGN §6).
// Usage: node scripts/check-cycles.mjs [dir]   — prints each circle, exits 1 if there is one.
// Type-only imports count too: a circle of types still ties modules that should stand apart.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const IMPORT = /^\s*(?:import|export)\s[^;]*?\sfrom\s+['"](\.[^'"]+)['"]|^\s*import\s+['"](\.[^'"]+)['"]/gms;

/** Every .ts module under `dir`, with the relative modules it imports. */
export function importGraph(dir) {
  const graph = new Map();
  const walk = (d) => {
    for (const name of readdirSync(d)) {
      const full = path.join(d, name);
      if (statSync(full).isDirectory()) walk(full);
      else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) {
        const deps = new Set();
        for (const m of readFileSync(full, 'utf8').matchAll(IMPORT)) {
          const spec = (m[1] ?? m[2]).replace(/\.js$/, '.ts');
          deps.add(path.resolve(path.dirname(full), spec));
        }
        graph.set(full, deps);
      }
    }
  };
  walk(path.resolve(dir));
  for (const deps of graph.values()) for (const d of deps) if (!graph.has(d)) deps.delete(d);
  return graph;
}

/** The strongly connected components with more than one module (Tarjan): each is a circle. */
export function cycles(graph) {
  let index = 0;
  const idx = new Map();
  const low = new Map();
  const stack = [];
  const on = new Set();
  const out = [];
  const visit = (v) => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    on.add(v);
    for (const w of graph.get(v)) {
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v), low.get(w)));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v), idx.get(w)));
    }
    if (low.get(v) === idx.get(v)) {
      const scc = [];
      let w;
      do {
        w = stack.pop();
        on.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1 || graph.get(v).has(v)) out.push(scc.sort());
    }
  };
  for (const v of graph.keys()) if (!idx.has(v)) visit(v);
  return out;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const root = path.resolve(process.argv[2] ?? 'src');
  const found = cycles(importGraph(root));
  for (const c of found) console.error(`import circle: ${c.map((f) => path.relative(root, f)).join(' ↔ ')}`);
  if (found.length) process.exit(1);
  console.log(`no import circles in ${path.relative(process.cwd(), root) || '.'}`);
}

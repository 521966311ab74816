// Fails when src/ has an import circle or an arrow that points up the layers of docs/ARCHITECTURE.md.
// Usage: node scripts/check-cycles.mjs [dir]   — prints each circle and each upward import, exits 1 if there is one.
// Type-only imports count too: a circle of types still ties modules that should stand apart.
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
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

/**
 * The layers of src/, bottom first (docs/ARCHITECTURE.md, "Layers"): a module may import its
 * own layer and the layers below it, never one above. A folder is named with its slash; the
 * top-level files are named one by one, so that a new one has to be placed.
 */
export const LAYERS = [
  ['core', ['core/']],
  [
    'base',
    [
      'errors.ts',
      'log.ts',
      'options.ts',
      'uri.ts',
      'version.ts',
      'native.ts',
      'sea-cache.ts',
      'stop-deadline.ts',
      'signals.ts',
      'address-hints.ts',
      'env-token.ts',
    ],
  ],
  ['protocols', ['protocols/']],
  ['web', ['web/']],
  ['endpoints', ['endpoints/']],
  ['plan', ['plan/']],
  ['router', ['router/']],
  ['app', ['client/', 'main.ts', 'config.ts', 'help.ts', 'ineffective-options.ts', 'metrics.ts']],
];

/** Imports that point up the layers (or from/to a module no layer names): [from, to, why]. */
export function upwardImports(graph, root, layers = LAYERS) {
  const out = [];
  const rel = (f) => path.relative(root, f).split(path.sep).join('/');
  const name = (i) => layers[i][0];
  const indexOf = (r) => layers.findIndex(([, members]) => members.some((m) => (m.endsWith('/') ? r.startsWith(m) : r === m)));
  for (const [file, deps] of graph) {
    const from = rel(file);
    const lf = indexOf(from);
    if (lf < 0) {
      out.push([from, '', 'is in no layer (add it to LAYERS in scripts/check-cycles.mjs and to docs/ARCHITECTURE.md)']);
      continue;
    }
    for (const d of deps) {
      const to = rel(d);
      const lt = indexOf(to);
      if (lt <= lf) continue;
      out.push([from, to, lt < 0 ? 'imports a module in no layer' : `${name(lf)} imports ${name(lt)}, a layer above it`]);
    }
  }
  return out.sort((a, b) => (a[0] + a[1]).localeCompare(b[0] + b[1]));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const root = path.resolve(process.argv[2] ?? 'src');
  const graph = importGraph(root);
  const found = cycles(graph);
  for (const c of found) console.error(`import circle: ${c.map((f) => path.relative(root, f)).join(' ↔ ')}`);
  // Another tree (the checker's own test) has its own folders: layers are checked only where they are declared.
  const layered = existsSync(path.join(root, 'core'));
  const up = layered ? upwardImports(graph, root) : [];
  for (const [from, to, why] of up) console.error(`upward import: ${from}${to ? ` -> ${to}` : ''}: ${why}`);
  if (found.length || up.length) process.exit(1);
  console.log(`no import circles${layered ? ' and every import points down the layers' : ''} in ${path.relative(process.cwd(), root) || '.'}`);
}

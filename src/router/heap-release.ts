// Gives freed memory back to the OS after screen models were freed (many idle ones, or one with a full scroll-back).
import v8 from 'node:v8';
import vm from 'node:vm';
import { loadMallocTrim } from '../native.js';

type Gc = (options?: { type?: 'major' | 'minor'; execution?: 'sync' | 'async' }) => Promise<void> | undefined;

let gc: Gc | null | undefined;

/**
 * V8's own gc(), which Node only exposes under --expose-gc: the flag is read when a context is
 * made, so a context made while it is set has it. Null if this V8 refuses.
 */
function gcFunction(): Gc | null {
  if (gc !== undefined) return gc;
  try {
    v8.setFlagsFromString('--expose-gc');
    const f: unknown = vm.runInNewContext('gc');
    gc = typeof f === 'function' ? (f as Gc) : null;
  } catch {
    gc = null;
  } finally {
    v8.setFlagsFromString('--no-expose-gc');
  }
  return gc;
}

/**
 * The second collection comes this long after the first: V8 shrinks its young generation
 * (grown to 16 MB a semi-space at the peak) only in a full GC that measures allocation slow
 * over the last 5 s, and the first one's measure still holds the sweep (and the peak).
 */
const APART_MS = 6000;
let pending: NodeJS.Timeout | undefined;
/** How many releases finished (both collections): tests see the path ran. */
export let heapReleases = 0;
/** How many of them then asked glibc to give its free pages back (malloc_trim): tests see the addon ran. */
export let heapTrims = 0;

let trim: (() => boolean) | null | undefined;

/**
 * V8 gives its own pages back, but the models' line buffers were malloc'd (typed arrays'
 * backing stores) and glibc keeps the freed ones in the middle of its heap: 1 000 consoles
 * stayed at 166 MiB after their models were freed, 110 MiB after malloc_trim. Without the
 * addon (not built, not glibc) the release stops at V8's part.
 */
function mallocTrim(): void {
  if (trim === undefined) {
    try {
      trim = loadMallocTrim();
    } catch {
      trim = null;
    }
  }
  if (!trim) return;
  trim();
  heapTrims++;
}

/**
 * An idle process allocates nothing, so V8 never collects what was just freed: a thousand
 * freed models (~150 MB of heap) stayed in RSS for good. The first full GC frees their
 * objects, the second gives the emptied pages back and shrinks the young generation, and
 * malloc_trim then returns what glibc holds. Each is a few ms of the main thread.
 */
export function releaseHeap(): void {
  const f = gcFunction();
  if (!f || pending) return;
  pending = setTimeout(() => {
    f();
    // V8 reads zero allocation since the last GC as "no measurement", not as slow: a little
    // (more than an allocation buffer's worth) lets the second GC see the process idle.
    Array.from({ length: 8192 }, (_, i) => ({ i }));
    pending = setTimeout(() => {
      f();
      heapReleases++;
      mallocTrim();
      pending = undefined;
    }, APART_MS);
    pending.unref();
  }, 1000);
  pending.unref();
}

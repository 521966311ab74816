// Gives freed memory back to the OS after many screen models were freed at once.
import v8 from 'node:v8';
import vm from 'node:vm';

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

let running = false;
/** How many releases finished (both collections): tests see the path ran. */
export let heapReleases = 0;

/**
 * An idle process allocates nothing, so V8 never collects what was just freed: a thousand
 * freed models (~150 MB of heap) stayed in RSS for good. The first major GC frees their
 * objects, the second (once sweeping is done) gives the emptied pages back. Both run
 * concurrently where V8 can; a few tens of ms of the main thread, once per sweep that freed.
 */
export function releaseHeap(): void {
  const f = gcFunction();
  if (!f || running) return;
  running = true;
  Promise.resolve(f({ type: 'major', execution: 'async' }))
    .then(() => f({ type: 'major', execution: 'async' }))
    .then(() => void heapReleases++)
    .finally(() => {
      running = false;
    });
}

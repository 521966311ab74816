// Test helper: wait for a condition, and fail saying what was awaited when it never comes (no loop that falls through silently).

export interface UntilOptions {
  /** What the test waits for, in words: the failure says "waited N ms for WHAT". Default: the condition's source. */
  what?: string;
  /** A bound, not a timing assertion: long enough for a loaded CI machine (default 120 s). */
  timeout?: number;
  /** Between two looks (default 20 ms). */
  step?: number;
  /** More to say when it fails (a screen's contents, the process's stderr). */
  detail?: () => string | Promise<string>;
}

/**
 * Polls `cond` until it gives a truthy value, and resolves with that value; after `timeout`
 * rejects with an Error naming what it waited for. Prefer waiting on the event itself
 * (`once`, readUntil) where there is one; this is for state seen only by looking (a file,
 * /proc, a log line).
 */
export async function until(cond: () => boolean | Promise<boolean>, opts?: UntilOptions): Promise<void>;
export async function until<T>(cond: () => T | Promise<T>, opts?: UntilOptions): Promise<NonNullable<T>>;
export async function until<T>(cond: () => T | Promise<T>, opts: UntilOptions = {}): Promise<NonNullable<T>> {
  const { timeout = 120_000, step = 20 } = opts;
  const end = Date.now() + timeout;
  for (;;) {
    const v = await cond();
    if (v) return v as NonNullable<T>;
    if (Date.now() >= end) {
      const what = opts.what ?? cond.toString().replace(/\s+/g, ' ');
      const detail = opts.detail ? `\n${await opts.detail()}` : '';
      throw new Error(`waited ${timeout} ms for ${what}${detail}`);
    }
    await new Promise((r) => setTimeout(r, step));
  }
}

/**
 * Resolves as `p` does, or rejects after `timeout` naming what was awaited: for an event that
 * may never come (a child that stopped reading), so a test fails with its state instead of
 * the runner's bare file timeout.
 */
export async function within<T>(p: Promise<T>, opts: UntilOptions & { what: string }): Promise<T> {
  const { timeout = 120_000 } = opts;
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(async () => {
      const detail = opts.detail ? `\n${await opts.detail()}` : '';
      reject(new Error(`waited ${timeout} ms for ${opts.what}${detail}`));
    }, timeout);
  });
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}

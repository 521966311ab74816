// The promise made on SIGINT/SIGTERM: the process is gone within 2 s, however much is still closing.
import type { Logger } from './log.js';

/** How long a stop may take before the process exits anyway (the promise is 2 s). */
export const STOP_DEADLINE_MS = 1500;

/**
 * Arms the fallback after a graceful stop began: thousands of peers flushing or a device
 * that does not let go must not keep a service manager waiting. process.exit runs the
 * 'exit' hooks, which restore the terminal and the ttys' settings on the way out.
 */
export function exitAfterDeadline(sig: string, log: Logger): void {
  setTimeout(() => {
    log.warn(`${sig}: still closing after ${STOP_DEADLINE_MS} ms; exiting now`, { event: 'stop-deadline', signal: sig });
    process.exit(0);
  }, STOP_DEADLINE_MS).unref();
}

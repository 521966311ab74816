// Logging to stderr with levels set by -v/-q; data never goes through here.

export type Level = 'error' | 'warn' | 'info' | 'debug';
const RANK: Record<Level, number> = { error: 0, warn: 1, info: 2, debug: 3 };

export interface Logger {
  error(msg: string): void;
  warn(msg: string): void;
  info(msg: string): void;
  debug(msg: string): void;
  enabled(level: Level): boolean;
}

/** A logger that writes "ptybridge: msg" lines to stderr at or above `level`. */
export function createLogger(level: Level = 'warn', write: (line: string) => void = defaultWrite): Logger {
  const at = (l: Level) => (msg: string) => {
    if (RANK[l] <= RANK[level]) write(`ptybridge: ${msg}\n`);
  };
  return {
    error: at('error'),
    warn: at('warn'),
    info: at('info'),
    debug: at('debug'),
    enabled: (l) => RANK[l] <= RANK[level],
  };
}

function defaultWrite(line: string): void {
  process.stderr.write(line);
}

/** Level from the count of -v and -q flags: default warn (notices such as "listening on"). */
export function levelFrom(verbose: number, quiet: boolean): Level {
  if (quiet) return 'error';
  if (verbose >= 2) return 'debug';
  if (verbose === 1) return 'info';
  return 'warn';
}

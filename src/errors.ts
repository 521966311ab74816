// Error classes with stable codes, so the CLI can print one line and pick the exit status.

/** Stable error codes, listed in docs/REFERENCE.md (Errors). */
export type ErrorCode =
  | 'PTYB_ERR_USAGE' // bad command line, URI or option: exit 2
  | 'PTYB_ERR_CONFIG' // bad config file: exit 2
  | 'PTYB_ERR_OPEN' // an endpoint could not be opened or bound: exit 1
  | 'PTYB_ERR_IO' // an open endpoint failed while running: exit 1
  | 'PTYB_ERR_ROUTE'; // two endpoints that cannot be joined: exit 2

/** Base class of every failure ptybridge expects; these print as one line, never a stack. */
export class PtybError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly exitCode: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'PtybError';
  }
}

/** The user asked for something that cannot work; nothing has been opened. Exit status 2. */
export class UsageError extends PtybError {
  constructor(message: string) {
    super('PTYB_ERR_USAGE', message, 2);
  }
}

/** A config file is wrong; the message names file:line:col. Exit status 2. */
export class ConfigError extends PtybError {
  constructor(message: string) {
    super('PTYB_ERR_CONFIG', message, 2);
  }
}

/** Two endpoints that cannot be joined (two stdio, two doors of the wrong kind). */
export class RouteError extends PtybError {
  constructor(message: string) {
    super('PTYB_ERR_ROUTE', message, 2);
  }
}

/** An endpoint failed to open, bind or run: names the endpoint and the OS error code. Exit 1. */
export class EndpointError extends PtybError {
  constructor(
    readonly endpoint: string,
    override readonly cause: unknown,
    code: ErrorCode = 'PTYB_ERR_OPEN',
  ) {
    super(code, `${endpoint}: ${describeOsError(cause)}`, 1, { cause });
  }
}

/** "ECONNREFUSED (connection refused)" style text from a Node system error, without a stack. */
export function describeOsError(err: unknown): string {
  if (err instanceof PtybError) return err.message;
  const e = err as NodeJS.ErrnoException | undefined;
  const code = e?.code;
  const hint = code ? OS_HINTS[code] : undefined;
  if (code && hint) return `${code} (${hint})`;
  if (code) return `${code}: ${stripCode(e?.message ?? '', code)}`;
  return e?.message ?? String(err);
}

function stripCode(message: string, code: string): string {
  return message.replace(new RegExp(`^${code}:?\\s*`), '').replace(/^[a-z]+ [A-Z]+ /, '');
}

const OS_HINTS: Record<string, string> = {
  ENOENT: 'no such file or directory',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EADDRINUSE: 'address already in use',
  EADDRNOTAVAIL: 'address not available on this machine',
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset by peer',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ETIMEDOUT: 'timed out',
  ENOTFOUND: 'host name not found',
  EAI_AGAIN: 'host name lookup failed, try again',
  EISDIR: 'is a directory',
  ENOTDIR: 'not a directory',
  EBUSY: 'device or resource busy',
  EIO: 'input/output error',
  ENOSPC: 'no space left on device',
  EPIPE: 'broken pipe',
  EEXIST: 'already exists',
};

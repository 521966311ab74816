// $PTYBRIDGE_TOKEN, taken out of the environment when ptybridge starts, so that no exec: child (a shell a watcher sees `env` in) inherits it.

/** The environment variable that gives every ws-listen of the process its token (kept out of `ps`). */
export const TOKEN_ENV = 'PTYBRIDGE_TOKEN';

let taken: { value: string | undefined } | undefined;

/**
 * The variable's value as it was at start; the first call removes it from `process.env`
 * (children are spawned with process.env), later calls give the same value: a route
 * reloaded on SIGHUP still finds it.
 */
export function envToken(): string | undefined {
  if (!taken) {
    taken = { value: process.env[TOKEN_ENV] };
    delete process.env[TOKEN_ENV];
  }
  return taken.value;
}

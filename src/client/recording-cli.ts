// What `ptybridge play` and `ptybridge history` share: their argument parsing and their one-line failures (the file and the OS code, or the file, line and what is not asciicast v2 there: exit 1).
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { CastFormatError } from '../core/asciicast.js';
import { EndpointError, PtybError, UsageError } from '../errors.js';
import { didYouMean } from '../uri.js';

/** The error to print for `err` met reading `path`. */
export function recordingError(path: string, err: unknown): PtybError {
  if (err instanceof PtybError) return err;
  if (err instanceof CastFormatError) return new PtybError('PTYB_ERR_IO', err.message, 1, { cause: err });
  if ((err as NodeJS.ErrnoException)?.code) return new EndpointError(path, err, 'PTYB_ERR_IO');
  return new PtybError('PTYB_ERR_IO', `${path}: ${(err as Error)?.message ?? String(err)}`, 1, { cause: err });
}

/** node's parseArgs, strict, with its errors as one usage line naming the command (and the option meant, for a typo). */
export function parseCommandArgs<O extends NonNullable<ParseArgsConfig['options']>>(command: string, argv: string[], options: O) {
  try {
    return parseArgs({ args: withValuesJoined(argv, options), options, allowPositionals: true, strict: true });
  } catch (err) {
    const message = (err as Error).message.replace(/\. To specify a positional.*$/s, '').replace(/\s*\n\s*/g, ' ');
    const typo = /^Unknown option '--([^'=]+)'/.exec(message)?.[1];
    const hint = typo === undefined ? undefined : didYouMean(typo, Object.keys(options));
    throw new UsageError(`${command}: ${message}${hint ? ` (did you mean "--${hint}"?)` : ''}; see ptybridge --help ${command}`);
  }
}

/**
 * `--since -1h` as `--since=-1h`: parseArgs takes a value that starts with "-" for another
 * option, and `-DURATION` is how --since counts back. A value option's next word is its value.
 */
function withValuesJoined(argv: string[], options: NonNullable<ParseArgsConfig['options']>): string[] {
  const takesValue = new Map<string, string>();
  for (const [name, o] of Object.entries(options)) {
    if (o.type !== 'string') continue;
    takesValue.set(`--${name}`, `--${name}`);
    if (o.short) takesValue.set(`-${o.short}`, `--${name}`);
  }
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      out.push(...argv.slice(i));
      break;
    }
    const long = takesValue.get(a);
    if (long && i + 1 < argv.length) out.push(`${long}=${argv[++i]}`);
    else out.push(a);
  }
  return out;
}

/** A number of seconds (or a factor) given to `option`: finite, and above 0 unless `zero` is allowed. */
export function positiveNumber(command: string, option: string, raw: string | undefined, what: string, zero = false): number | undefined {
  if (raw === undefined) return undefined;
  const n = /^\s*[0-9.]+\s*$/.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isFinite(n) || n < 0 || (n === 0 && !zero)) throw new UsageError(`${command}: --${option} expects ${what}, got ${JSON.stringify(raw)}`);
  return n;
}

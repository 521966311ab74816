// Builders for endpoint option schemas: query-string text in, typed values with defaults out.
import type { OptionField, OptionMeta, OptionShape, OptionsSchema } from './core/option-schema.js';

export type { OptionMeta } from './core/option-schema.js';

/** An endpoint type's options: `defineOptions({ nodelay: flag(true, '…'), … })`. */
export function defineOptions<S extends OptionShape>(shape: S): OptionsSchema<S> {
  return { shape };
}

function option<T>(
  expected: string,
  description: string,
  convert: (raw: string) => T | undefined,
  fallback: () => T,
  show?: (value: T) => string,
): OptionField<T> {
  const meta: OptionMeta = { expected, description, ...(show ? { show: show as (v: never) => string } : {}) };
  return {
    read(raw) {
      if (raw === undefined) return { value: fallback() };
      const value = convert(raw);
      return value === undefined ? undefined : { value };
    },
    meta: () => meta,
  };
}

const TRUE = new Set(['', 'true', '1', 'yes', 'on']);
const FALSE = new Set(['false', '0', 'no', 'off']);

/** A boolean; written bare (`?nodelay`) it means true. */
export function flag(def: boolean, description: string) {
  return option(
    'true|false (or bare)',
    description,
    (raw) => (TRUE.has(raw) ? true : FALSE.has(raw) ? false : undefined),
    () => def,
  );
}

/** Reads a whole number within [min, max]; undefined for anything else. */
const intWithin = (min: number, max: number) => (raw: string) => {
  if (!/^-?\d+$/.test(raw)) return undefined;
  const n = Number(raw);
  return n >= min && n <= max ? n : undefined;
};

/** A whole number within [min, max]. */
export function int(def: number, min: number, max: number, description: string) {
  return option(`an integer ${min}-${max}`, description, intWithin(min, max), () => def);
}

/** An optional whole number within [min, max]; undefined when absent. */
export function optionalInt(min: number, max: number, description: string) {
  return option<number | undefined>(`an integer ${min}-${max}`, description, intWithin(min, max), () => undefined);
}

const SIZE_UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  k: 1024,
  kb: 1024,
  kib: 1024,
  m: 1024 ** 2,
  mb: 1024 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gb: 1024 ** 3,
  gib: 1024 ** 3,
};

/** Parses "16k", "1M", "4096" into bytes; undefined when malformed. */
export function parseSize(raw: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(raw.trim());
  if (!m) return undefined;
  const unit = SIZE_UNITS[m[2]!.toLowerCase()];
  return unit === undefined ? undefined : Math.floor(Number(m[1]) * unit);
}

/** A byte count: "16k", "1M", "4096"; a `min`/`max` other than the defaults show in the expected text. */
export function size(def: number, description: string, max = 2 ** 40, min = 0) {
  const expected = min === 0 && max === 2 ** 40 ? 'a size such as 4096, 16k or 1M' : `a size ${min}-${max} bytes, such as 4096 or 8k`;
  return option(
    expected,
    description,
    (raw) => {
      const n = parseSize(raw);
      return n !== undefined && n >= min && n <= max ? n : undefined;
    },
    () => def,
    formatSize,
  );
}

/** 1048576 -> "1M", 65536 -> "64k", 1000 -> "1000": the largest unit it is a whole number of. */
export function formatSize(n: number): string {
  for (const [unit, scale] of [
    ['G', 1024 ** 3],
    ['M', 1024 ** 2],
    ['k', 1024],
  ] as const) {
    if (n >= scale && n % scale === 0) return `${n / scale}${unit}`;
  }
  return String(n);
}

/** Parses "500ms", "2s", "1m", or a bare number of seconds, into milliseconds. */
export function parseDuration(raw: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(raw.trim());
  if (!m) return undefined;
  const scale = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[(m[2] ?? 's') as 'ms' | 's' | 'm' | 'h'];
  return Math.round(Number(m[1]) * scale);
}

/** The longest delay a Node timer takes; beyond it Node fires after 1 ms instead. */
export const MAX_DURATION_MS = 2 ** 31 - 1;

/** A duration in milliseconds, written "500ms", "2s", "1m" or bare seconds; at most ~24 days. */
export function duration(defMs: number, description: string, maxMs = MAX_DURATION_MS) {
  const most = maxMs >= 86_400_000 ? `${Math.floor(maxMs / 86_400_000)} days` : maxMs >= 1000 ? `${maxMs / 1000}s` : `${maxMs}ms`;
  return option(
    `a duration such as 500ms, 2s or 1m (at most ${most})`,
    description,
    (raw) => {
      const ms = parseDuration(raw);
      // Node turns an oversized timer into a 1 ms one: `interval=1000h` would spin.
      return ms !== undefined && ms <= maxMs ? ms : undefined;
    },
    () => defMs,
    formatDuration,
  );
}

/** 10000 -> "10s", 300000 -> "5m", 1500 -> "1500ms": as a user writes it, in the largest whole unit. */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0';
  for (const [unit, scale] of [
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1000],
  ] as const) {
    if (ms >= scale && ms % scale === 0) return `${ms / scale}${unit}`;
  }
  return `${ms}ms`;
}

/** An option's value as a user would write it (see OptionMeta.show). */
export function showValue(field: OptionField<unknown> | undefined, value: unknown): string {
  const show = field?.meta().show as ((v: unknown) => string) | undefined;
  return show ? show(value) : String(value);
}

/** Any text; `def` undefined makes it optional. */
export function text(def: string | undefined, description: string, expected = 'text') {
  return option<string | undefined>(
    expected,
    description,
    (raw) => raw,
    () => def,
  );
}

/** One of a fixed set of words. */
export function oneOf<const V extends readonly string[]>(values: V, def: V[number], description: string) {
  return option<V[number]>(
    values.join('|'),
    description,
    (raw) => ((values as readonly string[]).includes(raw) ? raw : undefined),
    () => def,
  );
}

/**
 * Permission bits in octal, 0-0777 ("0660", "660", "0" and "0000" alike); undefined when
 * absent. Setuid, setgid and sticky (07000) are refused: a socket or a device node given
 * them by a typo is a hole, and chmod(1) users write them deliberately, not here.
 */
export function fileMode(description: string) {
  return option<number | undefined>(
    'permission bits in octal, 0-0777, such as 0660',
    description,
    (raw) => {
      if (!/^[0-7]{1,4}$/.test(raw)) return undefined;
      const mode = parseInt(raw, 8);
      return mode <= 0o777 ? mode : undefined;
    },
    () => undefined,
  );
}

/** Help rows for an options schema: name, expected form, default, description. */
export function describeOptions(schema: OptionsSchema): { name: string; expected: string; default: string; description: string }[] {
  return Object.entries(schema.shape).map(([name, field]) => {
    const meta = field.meta();
    const value = field.read(undefined)?.value;
    const def = value !== undefined ? showValue(field, value) : '';
    return { name, expected: meta.expected, default: def, description: meta.description };
  });
}

/** A value that `convert` parses from the text (undefined when malformed); undefined when absent. */
export function parsed<T>(expected: string, description: string, convert: (raw: string) => T | undefined) {
  return option<T | undefined>(expected, description, convert, () => undefined);
}

// What an endpoint type's options are: named fields, each parsing its query-string text.
// Plain objects rather than zod: a command line's start-up would otherwise evaluate zod's
// module (~14 ms of a route's start inside the binary, bench/results-binary.md) only to
// read a few `?key=value` pairs. Config files and the console API still use zod.

/** What help shows for one option. */
export interface OptionMeta {
  /** What a value must look like: "true|false", "integer 1-65535", "size (16k, 1M)". */
  expected: string;
  description: string;
  /** How a value is written back (help's defaults, --check): `10s`, not the 10000 ms it holds. */
  show?: (value: never) => string;
}

/** One option: its text (undefined when absent) to its value, or undefined when malformed. */
export interface OptionField<T> {
  read(raw: string | undefined): { value: T } | undefined;
  meta(): OptionMeta;
}

export type OptionShape = Record<string, OptionField<unknown>>;

/** An endpoint type's options, by name. */
export interface OptionsSchema<S extends OptionShape = OptionShape> {
  readonly shape: S;
}

/** The parsed options a schema gives: each field's value, defaults filled in. */
export type OptionsOf<O extends OptionsSchema> = { [K in keyof O['shape']]: O['shape'][K] extends OptionField<infer T> ? T : never };

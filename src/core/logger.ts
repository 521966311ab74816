// The logger every layer is handed: levels and structured fields (src/log.ts writes the lines).

export type Level = 'error' | 'warn' | 'info' | 'debug';

/**
 * What a log pipeline filters on, besides the message: `event` (a stable name such as
 * `listening`, `peer-connected`, `device-lost`) and whatever the line is about (`peer`,
 * `device`, `user`, `bytes_in`…). Text lines show only the message.
 */
export type LogFields = { event?: string } & Record<string, string | number | boolean | undefined>;

export interface Logger {
  error(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  debug(msg: string, fields?: LogFields): void;
  /** What a user reads at the default level although nothing is wrong (\"listening on …\"): shown as warn is, labelled info. */
  notice(msg: string, fields?: LogFields): void;
  enabled(level: Level): boolean;
}

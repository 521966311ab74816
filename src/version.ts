// The version, defined by scripts/bundle.mjs: a module of its own so that `--version` loads nothing else.
declare const PTYBRIDGE_VERSION: string;
export const VERSION = typeof PTYBRIDGE_VERSION === 'string' ? PTYBRIDGE_VERSION : '0.0.0-dev';

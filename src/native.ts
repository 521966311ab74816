// The one place native addons are loaded, so that the single binary (SEA) can swap in its asset cache.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/** node-pty (the prebuilt N-API build `@lydell/node-pty`), loaded on first use only. */
export function loadNodePty(): typeof import('@lydell/node-pty') {
  return require('@lydell/node-pty');
}

/** serialport's SerialPort class, loaded on first use only. */
export function loadSerialPort(): typeof import('serialport') {
  return require('serialport');
}

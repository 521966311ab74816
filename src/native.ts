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

/** The parts of node-pty's native module (pty.node) that ptybridge calls directly. */
export interface PtyNative {
  /** openpty(): a new pair, both ends non-blocking; `pty` is the slave's path. */
  open(cols: number, rows: number): { master: number; slave: number; pty: string };
  /** forkpty() + execvp(); `onexit` runs once the child has been reaped. */
  fork(
    file: string,
    args: string[],
    env: string[],
    cwd: string,
    cols: number,
    rows: number,
    uid: number,
    gid: number,
    utf8: boolean,
    helperPath: string,
    onexit: (code: number, signal: number) => void,
  ): { fd: number; pid: number; pty: string };
  resize(fd: number, cols: number, rows: number): void;
}

/**
 * node-pty's native layer, loaded on first use only. ptybridge uses it directly rather
 * than node-pty's JS wrapper: the wrapper reads the master through a tty.ReadStream and
 * writes to it with libuv's blocking tty writes, while we want epoll-driven, backpressured
 * I/O both ways (see endpoints/tty-fd.ts). It is the same file node-pty itself loads.
 */
export function loadPtyNative(): PtyNative {
  return require(`@lydell/node-pty-${process.platform}-${process.arch}/pty.node`);
}

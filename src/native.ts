// The one place native addons are loaded, so that the single binary (SEA) can swap in its asset cache.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { cacheDir, dlopenAddon, inSea, seaAddon } from './sea-cache.js';

/**
 * True only in the bundle that the single binary carries (scripts/bundle.mjs defines it):
 * there the JS of node-pty and serialport is bundled and their `.node` files come from
 * SEA assets. Everywhere else (npm, tsx) both load from node_modules.
 */
declare const PTYBRIDGE_SEA_BUNDLE: boolean;
const SEA_BUNDLE = typeof PTYBRIDGE_SEA_BUNDLE === 'boolean' && PTYBRIDGE_SEA_BUNDLE;

// Created on first use: in the SEA's CommonJS bundle import.meta.url is not a module URL.
let nodeRequire: NodeRequire | undefined;
function fromNodeModules(id: string): unknown {
  nodeRequire ??= createRequire(import.meta.url);
  return nodeRequire(id);
}

/** serialport's SerialPort class, loaded on first use only. */
export function loadSerialPort(): typeof import('serialport') {
  if (SEA_BUNDLE) return require('serialport');
  return fromNodeModules('serialport') as typeof import('serialport');
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
  if (SEA_BUNDLE) return seaAddon('pty.node') as PtyNative;
  return fromNodeModules(`@lydell/node-pty-${process.platform}-${process.arch}/pty.node`) as PtyNative;
}

/**
 * glibc's malloc_trim(0), from ptybridge's own addon (native/malloc-trim.c): true if memory
 * went back to the OS. The npm bundle finds it beside itself (dist/native/), tsx in dist/;
 * it throws where it was not built (no C compiler at install) or cannot load (not glibc).
 */
export function loadMallocTrim(): () => boolean {
  if (SEA_BUNDLE) return seaAddon('malloc-trim.node') as () => boolean;
  const name = `native/malloc-trim-${process.platform}-${process.arch}.node`;
  for (const url of [new URL(name, import.meta.url), new URL(`../dist/${name}`, import.meta.url)]) {
    const file = fileURLToPath(url);
    if (existsSync(file)) return dlopenAddon(file) as () => boolean;
  }
  throw new Error(`${name} was not built (scripts/build-native.mjs needs a C compiler)`);
}

/** Loads a native addon that the single binary carries as an SEA asset (see sea-cache.ts). */
export { seaAddon };

/**
 * One line per native addon saying whether it loads here, for `ptybridge --version -v`:
 * the quick check after copying the single binary onto an older host.
 */
export function describeNative(): string[] {
  const where = inSea() ? `SEA assets, cached in ${cacheDir()}` : 'node_modules';
  const check = (name: string, load: () => unknown) => {
    try {
      load();
      return `  ${name}: ok`;
    } catch (err) {
      return `  ${name}: cannot load: ${(err as Error).message.split('\n')[0]}`;
    }
  };
  return [
    `native addons (${where}):`,
    check('node-pty', () => loadPtyNative()),
    check('serialport', () => loadSerialPort()),
    check('malloc-trim', () => loadMallocTrim()),
  ];
}

// The one place native addons are loaded, so that the single binary (SEA) can swap in its asset cache.
import { createRequire } from 'node:module';
import { cacheDir, inSea, seaAddon } from './sea-cache.js';

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

/** node-pty (the prebuilt N-API build `@lydell/node-pty`), loaded on first use only. */
export function loadNodePty(): typeof import('@lydell/node-pty') {
  // The literal require() below is what esbuild bundles in the SEA variant; the esbuild
  // plugin there routes node-pty's own `require('…/pty.node')` to seaAddon('pty.node').
  if (SEA_BUNDLE) return require('@lydell/node-pty');
  return fromNodeModules('@lydell/node-pty') as typeof import('@lydell/node-pty');
}

/** serialport's SerialPort class, loaded on first use only. */
export function loadSerialPort(): typeof import('serialport') {
  if (SEA_BUNDLE) return require('serialport');
  return fromNodeModules('serialport') as typeof import('serialport');
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
    check('node-pty', () => loadNodePty()),
    check('serialport', () => loadSerialPort()),
  ];
}

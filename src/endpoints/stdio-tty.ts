// The interactive client: stdio on a terminal in raw mode with ~ escapes; the terminal is restored on every way out.
import type { Endpoint } from '../core/endpoint.js';
import type { ByteStream, Capabilities } from '../core/link.js';
import { UsageError } from '../errors.js';
import { stdioStream } from './stdio-stream.js';
import { escapeHelp, escapeName, escapeTransform, parseEscapeChar } from '../protocols/escapes.js';
import { describeKeyboard, type KeyboardState } from '../core/roles.js';

/** BREAK length sent by ~b (what ssh and most terminal servers use). */
const BREAK_MS = 250;

let restore: (() => void) | undefined;

/** Puts the terminal back to the mode it had; safe to call more than once, from any exit path. */
export function restoreTerminal(): void {
  const r = restore;
  restore = undefined;
  r?.();
}

function enterRawMode(): void {
  const stdin = process.stdin;
  if (!stdin.isTTY || restore) return;
  const wasRaw = stdin.isRaw;
  stdin.setRawMode(true);
  restore = () => {
    try {
      stdin.setRawMode(wasRaw);
    } catch {
      // The terminal is gone (hangup): nothing left to restore.
    }
  };
  // process.exit, a normal end, an uncaught exception and main's SIGINT/SIGTERM handling all pass here.
  process.once('exit', restoreTerminal);
}

/**
 * stdio for a person at a terminal: raw mode (keys go through at once, ^C reaches the far
 * side), `escape` at line start for local commands, the terminal's size sent as resizes.
 * With stdin not a terminal it is plain stdio, byte for byte.
 */
export function interactiveStdio(escape: number | undefined, hint: (text: string) => void): ByteStream & Pick<Capabilities, 'tell'> {
  if (!process.stdin.isTTY) return { stream: stdioStream(), label: 'stdio' };
  enterRawMode();
  const keys = escapeTransform(escape, (action) => {
    if (action === 'disconnect') {
      process.stderr.write('\r\n');
      restoreTerminal();
      stream.destroy();
    } else if (action === 'break') {
      stream.emit('control', { type: 'break', ms: BREAK_MS });
    } else if (action === 'take' || action === 'release') {
      stream.emit('control', { type: action });
    } else if (action === 'mark') {
      stream.emit('control', { type: 'mark', label: `marked at ${new Date().toISOString()}` });
      process.stdout.write('\r\n[ptybridge: marked]\r\n');
    } else if (escape !== undefined) {
      process.stdout.write(`\r\n${escapeHelp(escape)}`);
    }
  });
  process.stdin.pipe(keys);
  const stream = stdioStream(keys, process.stdout);
  stream.once('close', () => {
    process.stdin.unpipe(keys);
    restoreTerminal();
  });
  const sendSize = () => {
    if (process.stdout.isTTY) stream.emit('control', { type: 'resize', cols: process.stdout.columns, rows: process.stdout.rows });
  };
  process.stdout.on('resize', sendSize);
  // Once the route has joined us to the far side, which listens for controls from then on.
  stream.on('newListener', (event) => {
    if (event === 'control') setImmediate(sendSize);
  });
  if (escape !== undefined) hint(`${escapeName(escape)}. disconnects, ${escapeName(escape)}? lists escapes`);
  // A hub elsewhere (over ws:) says where the keyboard is: a line when this terminal's own state changes.
  let told: string | undefined;
  const tell = (state: KeyboardState) => {
    const key = `${state.you} ${state.holder ?? ''}`;
    if (key === told) return;
    // Where everyone types, there is nothing to say unless this terminal may not.
    if (told === undefined && state.policy === 'shared' && state.you === 'typing') return;
    told = key;
    const how = escape !== undefined && state.you === 'watching' && state.holder !== undefined ? ` (${escapeName(escape)}w takes it)` : '';
    // In band, after what the far side sent before it: a joiner's first bytes are its screen,
    // which starts with a reset, and a line written beside them (stderr) could land first and be
    // wiped.
    if (!stream.writableEnded) stream.write(`\r\n[ptybridge: ${describeKeyboard(state)}${how}]\r\n`);
  };
  return { stream, label: 'stdio', tell };
}

/** Applies the CLI's --escape to a stdio endpoint (other endpoints are returned as they are). */
export function withEscapeFlag(e: Endpoint, flag: string | undefined): Endpoint {
  if (flag === undefined || e.spec.scheme !== 'stdio') return e;
  try {
    parseEscapeChar(flag);
  } catch (err) {
    throw new UsageError(`--escape expects ${(err as Error).message}`);
  }
  return { ...e, spec: { ...e.spec, options: { ...e.spec.options, escape: flag } } };
}

// The JSON control messages in a ws-listen's text frames, one schema for the server (src/protocols/websockify.ts) and the page (src/web/client.ts).
// zod/mini: the page carries this schema, and the full zod would add some 450 kB to its script.
import * as z from 'zod/mini';
import { MAX_WINDOW, MIN_WINDOW } from './credit-window.js';
import { POLICIES } from './roles.js';

const dimension = z.int().check(z.minimum(1), z.maximum(10_000));
const count = z.int().check(z.minimum(0));
const text = z.optional(z.string().check(z.maxLength(200)));

/** A terminal's size: the page sends it on connect and on every resize. */
export const resizeMessage = z.object({ type: z.literal('resize'), cols: dimension, rows: dimension });
/** A BREAK of `ms` milliseconds (250 when not given). */
export const breakMessage = z.object({ type: z.literal('break'), ms: z._default(z.number().check(z.minimum(0), z.maximum(10_000)), 250) });
/** Under `?policy=exclusive`: take the keyboard, or let it go. */
export const keyboardRequest = z.object({ type: z.enum(['take', 'release']) });
/** A peer marks this moment in the console's history (`~m`, the page's button); the label is optional. */
export const markMessage = z.object({ type: z.literal('mark'), label: text });
/** `{"type":"keyboard"}` and nothing else: a peer asks to be told the keyboard state, now and on every change. */
export const keyboardAsk = z.strictObject({ type: z.literal('keyboard') });
/** The keyboard state the hub tells a peer (the page's badge; a ws: client passes it on). */
export const keyboardState = z.object({
  type: z.literal('keyboard'),
  you: z.enum(['typing', 'watching', 'read-only']),
  policy: z.enum(POLICIES),
  holder: text,
  name: text,
  watching: count,
  peers: count,
});
/** The server tells a tab the id of the per-peer session (a shell) it now owns, to present after a reload. */
export const sessionMessage = z.object({ type: z.literal('session'), id: z.string() });

/**
 * Flow control (ttyd's `flowControl`): the page says `pause` when more than its high mark of
 * output is handed to xterm.js and not yet parsed, and `resume` once that is back under its
 * low mark. The server then holds what it would send to that page (src/protocols/websockify.ts).
 * Each socket starts resumed on both sides: a reconnect cannot inherit a lost `resume`.
 */
export const flowMessage = z.strictObject({ type: z.enum(['pause', 'resume']) });

/**
 * Credit flow control (src/core/credit-window.ts), which a page turns on by announcing its
 * window first thing on its socket: from then on the server keeps at most `window` bytes of
 * output sent and not acknowledged, and the page acknowledges with `ack` what xterm.js has
 * parsed, counting every binary byte it got on this socket (those before the announcement too).
 * A peer that never announces one gets no such limit (pause/resume still apply).
 */
export const creditMessage = z.strictObject({ type: z.literal('credit'), window: z.int().check(z.minimum(MIN_WINDOW), z.maximum(MAX_WINDOW)) });
/** `bytes` more of the output parsed by the page (its write callbacks). */
export const ackMessage = z.strictObject({ type: z.literal('ack'), bytes: z.int().check(z.minimum(1), z.maximum(2 ** 31 - 1)) });

/** What the page sends. */
export type PageMessage =
  | z.input<typeof resizeMessage>
  | z.input<typeof keyboardRequest>
  | z.input<typeof keyboardAsk>
  | z.input<typeof markMessage>
  | z.input<typeof flowMessage>
  | z.input<typeof creditMessage>
  | z.input<typeof ackMessage>;
/** What the page is sent. */
export const serverMessage = z.discriminatedUnion('type', [keyboardState, sessionMessage]);
export type ServerMessage = z.output<typeof serverMessage>;

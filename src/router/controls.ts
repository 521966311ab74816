// Carries controls (resize, BREAK, line and modem settings) from one link to the one it is joined to.
import type { Logger } from '../log.js';
import type { ByteStream, Control, PipeEnd } from '../core/link.js';

/** Applies a control a peer asked for to `target`; links without that control ignore it. */
export function applyControl(target: PipeEnd, c: Control, log: Logger): void {
  const fail = (err: unknown) => log.warn(`${target.label}: ${c.type} failed: ${(err as Error).message}`);
  /** Replies with what the change put in force, or undefined where the link cannot tell (no such control, or it failed). */
  const answer = <T>(inForce: Promise<T> | undefined, reply: ((v: T | undefined) => void) | undefined) => {
    if (!inForce) return reply?.(undefined);
    inForce.then(reply, (err) => {
      fail(err);
      reply?.(undefined);
    });
  };
  switch (c.type) {
    case 'resize':
      try {
        target.resize?.(c.cols, c.rows);
      } catch (err) {
        fail(err);
      }
      return;
    case 'break':
      target.sendBreak?.(c.ms).catch(fail);
      return;
    case 'line':
      return answer(target.setLine?.(c.line), c.reply);
    case 'modem':
      return answer(target.setModem?.(c.modem), c.reply);
    case 'take':
    case 'release':
      // The interactive client's ~w/~s: only a link to a hub elsewhere (ws:) can carry them.
      if (target.keyboard) target.keyboard(c.type);
      else
        log.warn(
          `${target.label}: cannot ${c.type === 'take' ? 'take' : 'let go of'} the keyboard over this connection (a ws: connection to a ptybridge hub can)`,
        );
      return;
    case 'keyboard':
      if (c.state) target.tell?.(c.state);
      return;
    case 'mark':
      // The interactive client's ~m: a hub elsewhere (ws:) records it in its history.
      if (target.mark) target.mark(c.label);
      else log.warn(`${target.label}: cannot mark the history over this connection (a ws: connection to a ptybridge hub can)`);
      return;
  }
}

/**
 * Forwards the controls `from` emits to `to`; returns a function that stops forwarding.
 * A keyboard state is shown in band (the interactive client writes a line to its terminal), so
 * it waits for the bytes the far side sent before it that `from` still buffers: a joiner's
 * first bytes are its screen, whose reset would wipe a line written ahead of them.
 */
export function forwardControls(from: ByteStream, to: PipeEnd, log: Logger): () => void {
  /** The keyboard state waiting, and the bytes buffered when it came. Only the latest waits: it is where the keyboard is now. */
  let waiting: { bytes: number; c: Control } | undefined;
  // Added while a state waits, after the join's own 'data' listener: a chunk counted here is already written to `to`.
  const passed = (chunk: Buffer) => {
    if (!waiting || (waiting.bytes -= chunk.length) > 0) return;
    const { c } = waiting;
    waiting = undefined;
    from.stream.off('data', passed);
    applyControl(to, c, log);
  };
  const handler = (c: Control) => {
    if (c.type !== 'keyboard') return applyControl(to, c, log);
    const buffered = from.stream.readableLength;
    if (buffered === 0) {
      if (waiting) from.stream.off('data', passed);
      waiting = undefined;
      return applyControl(to, c, log);
    }
    if (!waiting) from.stream.on('data', passed);
    waiting = { bytes: buffered, c };
  };
  from.stream.on('control', handler);
  return () => {
    from.stream.off('control', handler);
    from.stream.off('data', passed);
  };
}

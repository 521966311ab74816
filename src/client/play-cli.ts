// `ptybridge play FILE.cast [--speed N] [--idle-limit S] [--at S] [--max]`: a recording's output on stdout at its recorded pace, as `asciinema play` does; q or Ctrl-C stops, space pauses, and the terminal is given back as it was.
import { type CastEvent, OutputJoiner, openCast } from '../core/asciicast.js';
import { UsageError } from '../errors.js';
import type { SignalGate } from '../signals.js';
import { parseCommandArgs, positiveNumber, recordingError } from './recording-cli.js';
import { ReaderGone, StdoutWriter } from './stdout-writer.js';

export interface PlayOptions {
  file: string;
  speed: number;
  /** Longest pause kept, in recorded seconds; the header's `idle_time_limit` when not given. */
  idleLimit?: number;
  /** Recorded seconds to skip to: what comes before is written at once. */
  at: number;
  max: boolean;
}

const OPTIONS = {
  speed: { type: 'string', short: 's' },
  'idle-limit': { type: 'string', short: 'i' },
  at: { type: 'string' },
  max: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

export function parsePlayArgs(argv: string[]): PlayOptions | 'help' {
  const { values, positionals } = parseCommandArgs('play', argv, OPTIONS);
  if (values.help) return 'help';
  if (positionals.length !== 1) {
    throw new UsageError(
      `play: expected one FILE.cast, got ${positionals.length ? positionals.map((p) => JSON.stringify(p)).join(' ') : 'none'}; usage: ptybridge play FILE.cast [--speed N] [--idle-limit SECONDS] [--at SECONDS] [--max]`,
    );
  }
  const idleLimit = positiveNumber('play', 'idle-limit', values['idle-limit'], 'seconds above 0 (such as 2 or 0.5)');
  return {
    file: positionals[0]!,
    speed: positiveNumber('play', 'speed', values.speed, 'a factor above 0 (such as 2 or 0.5)') ?? 1,
    ...(idleLimit !== undefined ? { idleLimit } : {}),
    at: positiveNumber('play', 'at', values.at, 'seconds into the recording (such as 0 or 12.5)', true) ?? 0,
    max: values.max ?? false,
  };
}

/** Stop and pause, from the keyboard or a signal; `wait` sleeps until a time, longer while paused. */
class Controls {
  stopped = false;
  paused = false;
  /** Wall-clock ms spent paused: the schedule moves on by that much. */
  shiftMs = 0;
  private pausedAt = 0;
  private wake: (() => void) | undefined;

  stop(): void {
    this.stopped = true;
    this.wake?.();
  }

  togglePause(): void {
    if (this.paused) this.shiftMs += Date.now() - this.pausedAt;
    else this.pausedAt = Date.now();
    this.paused = !this.paused;
    this.wake?.();
  }

  /** Resolves at `target()` (ms since the epoch, read again after each pause), or at once on stop. */
  async wait(target: () => number): Promise<void> {
    for (;;) {
      if (this.stopped) return;
      const ms = this.paused ? 2 ** 31 - 1 : target() - Date.now();
      if (ms <= 0) return;
      let timer: NodeJS.Timeout | undefined;
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        timer = setTimeout(resolve, ms);
      });
      clearTimeout(timer);
      this.wake = undefined;
    }
  }
}

/** Raw keys from a terminal on stdin: q and Ctrl-C stop, space pauses. Gives the terminal back on every way out. */
function keysFrom(controls: Controls): () => void {
  const stdin = process.stdin;
  if (!stdin.isTTY || typeof stdin.setRawMode !== 'function') return () => {};
  const onData = (b: Buffer) => {
    for (const c of b) {
      if (c === 0x71 || c === 0x51 || c === 0x03)
        controls.stop(); // q, Q, Ctrl-C
      else if (c === 0x20) controls.togglePause();
    }
  };
  stdin.setRawMode(true);
  stdin.on('data', onData);
  stdin.resume();
  let restored = false;
  const restore = () => {
    if (restored) return;
    restored = true;
    stdin.off('data', onData);
    stdin.setRawMode(false);
    stdin.pause();
  };
  // An exit that skips the finally below (process.exit in a signal handler) still restores.
  process.once('exit', restore);
  return restore;
}

export async function playMain(argv: string[], signals?: SignalGate): Promise<number> {
  const o = parsePlayArgs(argv);
  if (o === 'help') {
    const { subcommandHelp } = await import('../help.js');
    process.stdout.write(subcommandHelp('play'));
    return 0;
  }
  let file: Awaited<ReturnType<typeof openCast>>;
  try {
    file = await openCast(o.file);
  } catch (err) {
    throw recordingError(o.file, err);
  }
  const controls = new Controls();
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) signals?.on(sig, () => controls.stop());
  const restore = keysFrom(controls);
  const out = new StdoutWriter();
  try {
    await play(file.events, { ...o, idleLimit: o.idleLimit ?? file.header.idleTimeLimit }, controls, out);
    await out.flush();
    return 0;
  } catch (err) {
    if (err instanceof ReaderGone) return 0;
    // What was read before a bad line is still the recording: out first, then the error.
    await out.flush().catch(() => {});
    throw recordingError(o.file, err);
  } finally {
    restore();
    await file.close();
  }
}

/**
 * asciinema's schedule: the gap before each output event is capped at the idle limit, then
 * divided by the speed; events are due at fixed times from the start (no drift from slow
 * writes). Input, resize and marker events take no time of their own.
 */
async function play(events: AsyncIterable<CastEvent>, o: PlayOptions, controls: Controls, out: StdoutWriter): Promise<void> {
  const joiner = new OutputJoiner();
  const capped = (gap: number) => (o.idleLimit ? Math.min(gap, o.idleLimit) : gap);
  let prev = 0; // recorded time of the previous output event
  let virtual = 0; // the same after capping idle gaps: the schedule's clock
  let live = false;
  let originMs = 0;
  let originVirtual = 0;
  for await (const ev of events) {
    if (controls.stopped) return;
    if (ev.code !== 'o') continue;
    const before = virtual;
    virtual += capped(Math.max(0, ev.time - prev));
    if (!o.max && ev.time >= o.at) {
      if (!live) {
        // From --at on, in real time: the clock starts at the --at point, not at this event.
        live = true;
        originMs = Date.now();
        originVirtual = before + capped(Math.max(0, o.at - prev));
      }
      const due = () => originMs + controls.shiftMs + ((virtual - originVirtual) / o.speed) * 1000;
      if (due() > Date.now() || controls.paused) {
        await out.flush();
        await controls.wait(due);
        if (controls.stopped) return;
      }
    }
    prev = ev.time;
    await out.write(joiner.push(ev.data));
  }
  await out.write(joiner.end());
}

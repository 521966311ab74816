// exec: — runs a command on a new pty (a web terminal, ttyd/gotty), or on plain pipes (socat EXEC).
import type { spawn as Spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Duplex } from 'node:stream';
import { UsageError } from '../errors.js';
import type { Logger } from '../log.js';
import { loadPtyNative } from '../native.js';
import { flag, int, parsed, text, defineOptions } from '../options.js';
import { quoteUri } from '../uri.js';
import { socatHint } from '../address-hints.js';
import { parseEnvList, splitArgs } from './argv.js';
import { hubOptions, sessionOptions } from './hub-options.js';
import { ttyStream } from './tty-fd.js';
import { PipePair } from './pipe-pair.js';
import type { ConnectingType } from '../core/endpoint.js';
import type { ByteStream, PipeEnd } from '../core/link.js';

const execOptions = defineOptions({
  shell: flag(false, 'run the command with /bin/sh -c instead of splitting it into words (no shell by default)'),
  cwd: text(undefined, 'working directory (default: the current one)', 'a directory'),
  env: parsed('K=V,K2=V2 (\\, for a comma inside a value)', "extra environment variables, added to ptybridge's own", parseEnvList),
  cols: int(80, 1, 10_000, 'terminal width until a peer resizes it'),
  rows: int(24, 1, 10_000, 'terminal height until a peer resizes it'),
  pipes: flag(false, "plain stdin/stdout pipes instead of a pty (socat EXEC); stderr goes to ptybridge's stderr"),
  share: flag(false, 'behind a listener: one session shared by every peer (hub) instead of one per peer'),
  ...hubOptions,
  ...sessionOptions,
});

export interface ExecTarget {
  command: string;
  argv: string[];
}

export const exec: ConnectingType<ExecTarget, typeof execOptions> = {
  scheme: 'exec',
  role: 'connecting',
  sharing: 'per-peer',
  summary: 'run a command on a pty (argv split without a shell; the first "?" starts the options)',
  targetForm: 'COMMAND [ARGS…]',
  examples: [
    'ptybridge exec:bash ws-listen:8080                 # a web terminal, one shell per peer',
    "ptybridge 'exec:tmux new -A -s main?share' tcp-listen:23000   # one session for everyone",
    'ptybridge \'exec:grep -v "^#" /etc/fstab?pipes\' -',
  ],
  notes: [
    'The end of input types ^D (VEOF) on the pty, or closes stdin with ?pipes; the command is hung up (SIGHUP, ?pipes SIGTERM) when its peer is gone, and killed 5 s later if it is still there.',
  ],
  options: execOptions,
  async preflight(spec) {
    if (spec.options.shell) return;
    const file = spec.target.argv[0]!;
    const given = spec.options.env?.find(([k]) => k === 'PATH')?.[1] ?? process.env.PATH;
    const pathVar = given ?? DEFAULT_PATH;
    try {
      await resolveCommand(file, pathVar, spec.options.cwd ?? process.cwd());
    } catch (err) {
      const where = file.includes('/') ? '' : given === undefined ? ` (PATH is unset: looked in ${DEFAULT_PATH})` : ' in PATH';
      const why = (err as NodeJS.ErrnoException).code === 'EACCES' ? 'is not executable' : 'not found';
      const socat = socatHint(spec.uri);
      throw new UsageError(`${quoteUri(spec.uri)}: command ${JSON.stringify(file)} ${why}${where}${socat ? `; ${socat}` : ''}`);
    }
  },
  parseTarget(target, uri) {
    const split = splitArgs(target);
    if ('error' in split) throw new UsageError(`${quoteUri(uri)}: bad command: ${split.error}`);
    if (split.argv.length === 0) throw new UsageError(`${quoteUri(uri)}: missing command: expected exec:COMMAND [ARGS…]`);
    return { command: target, argv: split.argv };
  },
  async open(spec, ctx) {
    const o = spec.options;
    const [file, ...args] = o.shell ? ['/bin/sh', '-c', spec.target.command] : spec.target.argv;
    const env: NodeJS.ProcessEnv = { ...process.env, TERM: process.env.TERM || 'xterm-256color' };
    for (const [k, v] of o.env ?? []) env[k] = v;
    const cwd = o.cwd ?? process.cwd();
    if (!(await fs.promises.stat(cwd)).isDirectory()) throw Object.assign(new Error(`${cwd} is not a directory`), { code: 'ENOTDIR' });
    const resolved = await resolveCommand(file!, env.PATH ?? DEFAULT_PATH, cwd);
    const run = { file: resolved, args, env, cwd, name: file!, log: ctx.log };
    return o.pipes ? openPipes(run) : openPty(run, o.cols, o.rows);
  },
};

interface Run {
  file: string;
  args: string[];
  env: NodeJS.ProcessEnv;
  cwd: string;
  name: string;
  log: Logger;
}

/** Where execvp looks when PATH is unset (`env -i`): glibc's default, with /usr/local/bin first as in a login PATH. */
const DEFAULT_PATH = '/usr/local/bin:/usr/bin:/bin';

/** Finds the command the way execvp would, so that a missing one fails at open with ENOENT. */
async function resolveCommand(file: string, pathVar: string, cwd: string): Promise<string> {
  const candidates = file.includes('/')
    ? [path.resolve(cwd, file)]
    : pathVar
        .split(':')
        .filter(Boolean)
        .map((d) => path.join(d, file));
  let denied = false;
  for (const c of candidates) {
    try {
      await fs.promises.access(c, fs.constants.X_OK);
      if ((await fs.promises.stat(c)).isFile()) return c;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EACCES') denied = true;
    }
  }
  const code = denied ? 'EACCES' : 'ENOENT';
  throw Object.assign(new Error(`${file}: command not found`), { code });
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // Already gone.
  }
}

function describeExit(name: string, code: number | null, signal: number | string | null): string {
  return signal ? `${name} killed by signal ${signal}` : `${name} exited with status ${code}`;
}

/** The command on a new pty, through node-pty's native forkpty. */
function openPty(run: Run, cols: number, rows: number): PipeEnd {
  const native = loadPtyNative();
  const envList = Object.entries(run.env)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}=${v}`);
  let exited = false;
  let stream!: PtyProcessStream;
  const term = native.fork(run.file, run.args, envList, run.cwd, cols, rows, -1, -1, true, 'spawn-helper-unused', (code, signal) => {
    exited = true;
    run.log.info(describeExit(`exec ${run.name} (pid ${term.pid})`, code, signal || null));
    stream.exited();
  });
  stream = new PtyProcessStream(term.fd, () => {
    if (exited) return;
    signal(term.pid, 'SIGHUP');
    // Closing the master hangs up the session too; a command that ignores both is killed,
    // so that a peer that went away never leaves it running.
    setTimeout(() => {
      if (!exited) signal(term.pid, 'SIGKILL');
    }, KILL_AFTER_MS).unref();
  });
  return {
    stream,
    label: `exec ${run.name} (pid ${term.pid})`,
    resize(c, r) {
      if (!Number.isInteger(c) || !Number.isInteger(r) || c < 1 || r < 1) throw new Error(`bad size ${c}x${r}`);
      if (!stream.destroyed) native.resize(term.fd, c, r);
    },
  };
}

/** After the process exited: how long the master may stay silent before a background child holding the pty is given up on. */
const AFTER_EXIT_IDLE_MS = 1000;
/** How long a hung-up command may take to go before it is killed (one that ignores SIGHUP). */
const KILL_AFTER_MS = 5000;
/** What a terminal sends at the end of input: VEOF, which node-pty's forkpty sets to ^D. */
const VEOF = 0x04;

/**
 * A pty master as the byte stream of the process behind it: EIO (every slave fd closed,
 * the process has exited) is its end of file, not an error; `end()` types the EOF
 * character, as a terminal does at the end of input; destroying it hangs the process up.
 */
class PtyProcessStream extends Duplex {
  private ended = false;
  /** The last byte typed: a partial line needs one VEOF to be read and another to end input. */
  private lastTyped = 0x0a;
  private afterExit: NodeJS.Timeout | undefined;
  /** The idle wait after exit ran out while the reader was behind: end once it catches up. */
  private endWhenRead = false;
  /** The consumer is behind: the master is not read until it asks for more. */
  private behind = false;
  private readonly master: import('node:net').Socket;

  constructor(
    private readonly fd: number,
    private readonly hangup: () => void,
  ) {
    super({ allowHalfOpen: true });
    this.master = ttyStream(fd, (chunk) => {
      this.afterExit?.refresh();
      this.behind = !this.push(chunk);
      return !this.behind;
    });
    // libuv takes a hangup after a short read for the end of file, but a pty master hands
    // out what the slave wrote 4 KiB at a time: up to 64 KiB may still be there.
    this.master.on('end', () => {
      this.drainMaster();
      this.finishRead();
    });
    this.master.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EIO') this.finishRead();
      else this.destroy(err);
    });
  }

  /**
   * Reads what the master still holds, straight from the fd, until EIO (all read) or EAGAIN
   * (the slave is still open). Never once the master is destroyed: its number is then free,
   * and the next accept gets it, whose request this read would steal.
   */
  private drainMaster(): void {
    if (this.master.destroyed) return;
    const buf = Buffer.allocUnsafe(64 * 1024);
    for (;;) {
      let n: number;
      try {
        n = fs.readSync(this.fd, buf, 0, buf.length, null);
      } catch {
        return;
      }
      if (n <= 0) return;
      this.push(Buffer.from(buf.subarray(0, n)));
    }
  }

  private finishRead(): void {
    if (this.ended) return;
    this.ended = true;
    clearTimeout(this.afterExit);
    this.push(null);
  }

  /**
   * The process was reaped. Its last output is still read to EIO, which normally follows at
   * once; only if a background child keeps the pty open and silent is the end given up on,
   * never while output waits in the master (the reader was slow, or the event loop late:
   * a blind timer once ended the stream before the output that was already there).
   */
  exited(): void {
    // A peer that left destroyed the stream (and closed the master) before the hung-up process was reaped.
    if (this.ended || this.destroyed) return;
    this.afterExit = setTimeout(() => this.giveUpAfterExit(), AFTER_EXIT_IDLE_MS);
    this.afterExit.unref();
  }

  private giveUpAfterExit(): void {
    if (this.behind) {
      this.endWhenRead = true;
      return;
    }
    // One more turn of the event loop: its poll phase reads whatever the master holds.
    setImmediate(() => {
      if (this.destroyed) return;
      if (this.behind) return void (this.endWhenRead = true);
      this.drainMaster();
      this.finishRead();
    });
  }

  override _read(): void {
    this.behind = false;
    this.master.resume();
    if (this.endWhenRead) {
      this.endWhenRead = false;
      this.afterExit?.refresh();
    }
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    if (this.ended || this.master.destroyed) return cb(); // typing at a process that is gone
    if (chunk.length) this.lastTyped = chunk[chunk.length - 1]!;
    if (this.master.write(chunk)) cb();
    else this.master.once('drain', () => cb());
  }

  override _final(cb: (err?: Error | null) => void): void {
    // A pty has no half-close; the end of input is what a terminal makes of it: VEOF at
    // line start (a partial line needs a first one to be read). The session is hung up
    // when the join's linger runs out, if the process has not ended by itself.
    if (this.ended || this.master.destroyed) return cb();
    const atLineStart = this.lastTyped === 0x0a || this.lastTyped === 0x0d;
    this.master.write(Buffer.from(atLineStart ? [VEOF] : [VEOF, VEOF]), () => cb());
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    clearTimeout(this.afterExit);
    this.hangup();
    this.master.destroy();
    cb(err);
  }
}

/** The command on plain pipes: stdin and stdout, stderr shared with ptybridge (socat EXEC). */
function openPipes(run: Run): Promise<ByteStream> {
  return new Promise((resolve, reject) => {
    // child_process loads on first use: most routes never spawn a pipe child.
    const { spawn } = process.getBuiltinModule('node:child_process') as { spawn: typeof Spawn };
    const child = spawn(run.file, run.args, { cwd: run.cwd, env: run.env, stdio: ['pipe', 'pipe', 'inherit'] });
    child.once('error', reject);
    child.once('spawn', () => {
      child.off('error', reject);
      const label = `exec ${run.name} (pid ${child.pid})`;
      child.once('exit', (code, signal) => run.log.info(describeExit(label, code, signal)));
      // A command that exits (or closes its stdin) without reading everything has ended
      // normally: what is still sent to it is dropped, and the end of its stdout ends the link.
      const stream = new PipePair(child.stdout!, child.stdin!, { outputGone: 'discard' });
      stream.once('close', () => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        child.kill('SIGTERM');
        setTimeout(() => {
          if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
        }, KILL_AFTER_MS).unref();
      });
      resolve({ stream, label });
    });
  });
}

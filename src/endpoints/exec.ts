// exec: — runs a command on a new pty (a web terminal, ttyd/gotty), or on plain pipes (socat EXEC).
import type { spawn as Spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Duplex } from 'node:stream';
import { z } from 'zod';
import { UsageError } from '../errors.js';
import type { Logger } from '../log.js';
import { loadPtyNative } from '../native.js';
import { flag, int, parsed, text } from '../options.js';
import { quoteUri } from '../uri.js';
import { parseEnvList, splitArgs } from './argv.js';
import { hubOptions, sessionOptions } from './hub-options.js';
import { ttyStream } from './tty-fd.js';
import type { ConnectingType, Link } from './types.js';

const execOptions = z.object({
  shell: flag(false, 'run the command with /bin/sh -c instead of splitting it into words (no shell by default)'),
  cwd: text(undefined, 'working directory (default: the current one)', 'a directory'),
  env: parsed('K=V,K2=V2 (\\, for a comma inside a value)', 'extra environment variables, added to ptybridge\'s own', parseEnvList),
  cols: int(80, 1, 10_000, 'terminal width until a peer resizes it'),
  rows: int(24, 1, 10_000, 'terminal height until a peer resizes it'),
  pipes: flag(false, 'plain stdin/stdout pipes instead of a pty (socat EXEC); stderr goes to ptybridge\'s stderr'),
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
    "ptybridge exec:bash ws-listen:8080                 # a web terminal, one shell per peer",
    "ptybridge 'exec:tmux new -A -s main?share' tcp-listen:23000   # one session for everyone",
    "ptybridge 'exec:grep -v \"^#\" /etc/fstab?pipes' -",
  ],
  options: execOptions,
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
    const resolved = await resolveCommand(file!, env.PATH ?? '', cwd);
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

/** Finds the command the way execvp would, so that a missing one fails at open with ENOENT. */
async function resolveCommand(file: string, pathVar: string, cwd: string): Promise<string> {
  const candidates = file.includes('/') ? [path.resolve(cwd, file)] : pathVar.split(':').filter(Boolean).map((d) => path.join(d, file));
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

function describeExit(name: string, code: number | null, signal: number | string | null): string {
  return signal ? `${name} killed by signal ${signal}` : `${name} exited with status ${code}`;
}

/** The command on a new pty, through node-pty's native forkpty. */
function openPty(run: Run, cols: number, rows: number): Link {
  const native = loadPtyNative();
  const envList = Object.entries(run.env).filter(([, v]) => v !== undefined).map(([k, v]) => `${k}=${v}`);
  let exited = false;
  let stream!: PtyProcessStream;
  const term = native.fork(run.file, run.args, envList, run.cwd, cols, rows, -1, -1, true, 'spawn-helper-unused', (code, signal) => {
    exited = true;
    run.log.info(describeExit(`exec ${run.name} (pid ${term.pid})`, code, signal || null));
    stream.exited();
  });
  stream = new PtyProcessStream(ttyStream(term.fd), () => {
    if (!exited) {
      try {
        process.kill(term.pid, 'SIGHUP');
      } catch {}
    }
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

/**
 * A pty master as the byte stream of the process behind it: EIO (every slave fd closed,
 * the process has exited) is its end of file, not an error; destroying it hangs the process up.
 */
class PtyProcessStream extends Duplex {
  private ended = false;

  constructor(
    private readonly master: import('node:net').Socket,
    private readonly hangup: () => void,
  ) {
    super({ allowHalfOpen: true });
    master.on('data', (chunk: Buffer) => {
      if (!this.push(chunk)) master.pause();
    });
    master.on('end', () => this.finishRead());
    master.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EIO') this.finishRead();
      else this.destroy(err);
    });
  }

  private finishRead(): void {
    if (this.ended) return;
    this.ended = true;
    this.push(null);
  }

  /** The process was reaped; if a background child still holds the pty, do not wait for it forever. */
  exited(): void {
    setTimeout(() => this.finishRead(), 1000).unref();
  }

  override _read(): void {
    this.master.resume();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    if (this.ended || this.master.destroyed) return cb(); // typing at a process that is gone
    if (this.master.write(chunk)) cb();
    else this.master.once('drain', () => cb());
  }

  override _final(cb: (err?: Error | null) => void): void {
    // A pty has no half-close; the process ends the session when it exits.
    cb();
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.hangup();
    this.master.destroy();
    cb(err);
  }
}

/** The command on plain pipes: stdin and stdout, stderr shared with ptybridge (socat EXEC). */
function openPipes(run: Run): Promise<Link> {
  return new Promise((resolve, reject) => {
    // child_process loads on first use: most routes never spawn a pipe child.
    const { spawn } = process.getBuiltinModule('node:child_process') as { spawn: typeof Spawn };
    const child = spawn(run.file, run.args, { cwd: run.cwd, env: run.env, stdio: ['pipe', 'pipe', 'inherit'] });
    child.once('error', reject);
    child.once('spawn', () => {
      child.off('error', reject);
      const label = `exec ${run.name} (pid ${child.pid})`;
      child.once('exit', (code, signal) => run.log.info(describeExit(label, code, signal)));
      child.stdin!.on('error', () => {}); // EPIPE once the process is gone: its stdout ends the link
      const stream = Duplex.from({ readable: child.stdout!, writable: child.stdin! });
      stream.once('close', () => {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      });
      resolve({ stream, label });
    });
  });
}

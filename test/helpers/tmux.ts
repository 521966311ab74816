// Test helper: ptybridge at a real terminal (a tmux pane of its own tmux server), its screen and its tty's mode.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { PTYBRIDGE, runTool } from './ptyb.js';
import { until } from './until.js';

/** Polls a terminal's screen until `want` matches; fails showing the screen it has. */
export function waitForScreen(screen: () => Promise<string>, want: RegExp, timeout = 30_000): Promise<string> {
  return until(
    async () => {
      const s = await screen();
      return want.test(s) ? s : undefined;
    },
    { what: `the screen to show ${want}`, timeout, step: 50, detail: async () => `it shows:\n${await screen()}` },
  );
}

/** ptybridge in a tmux pane of its own tmux server; everything is killed in `close`. */
export async function inTmux(args: string[]) {
  const sock = `ptyb-tty-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  const tmux = (...a: string[]) => runTool('tmux', ['-L', sock, ...a]);
  const cmd = `${process.execPath} ${PTYBRIDGE} ${args.join(' ')}; echo EXITED=$?; sleep 60`;
  const started = await tmux('new-session', '-d', '-x', '120', '-y', '40', cmd);
  assert.equal(started.code, 0, started.stderr);
  const tty = (await tmux('display-message', '-p', '#{pane_tty}')).stdout.toString().trim();
  const shellPid = (await tmux('display-message', '-p', '#{pane_pid}')).stdout.toString().trim();
  const screen = () => tmux('capture-pane', '-p').then((r) => r.stdout.toString());
  return {
    tmux,
    tty,
    screen,
    waitFor: (want: RegExp, timeout = 30_000): Promise<string> => waitForScreen(screen, want, timeout),
    /** The ptybridge process: the pane shell's child. */
    ptybPid(): number {
      const kids = readFileSync(`/proc/${shellPid}/task/${shellPid}/children`, 'utf8').trim().split(/\s+/);
      return Number(kids[0]);
    },
    stty: async () => (await runTool('stty', ['-a', '-F', tty])).stdout.toString(),
    close: () => tmux('kill-server'),
  };
}

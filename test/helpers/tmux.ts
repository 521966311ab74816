// Test helper: ptybridge at a real terminal (a tmux pane of its own tmux server), its screen and its tty's mode.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { PTYBRIDGE, runTool } from './ptyb.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

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
    async waitFor(want: RegExp): Promise<string> {
      for (let i = 0; i < 200; i++) {
        const s = await screen();
        if (want.test(s)) return s;
        await sleep(50);
      }
      throw new Error(`screen never showed ${want}:\n${await screen()}`);
    },
    /** The ptybridge process: the pane shell's child. */
    ptybPid(): number {
      const kids = readFileSync(`/proc/${shellPid}/task/${shellPid}/children`, 'utf8').trim().split(/\s+/);
      return Number(kids[0]);
    },
    stty: async () => (await runTool('stty', ['-a', '-F', tty])).stdout.toString(),
    close: () => tmux('kill-server'),
  };
}

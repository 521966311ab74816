// The tiny QEMU guest of the console tests (built by qemu-guest.sh): boot it with its serial port on a chardev, stop it, and what QEMU said.
import { execFile, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { promisify } from 'node:util';
import { ROOT, spawnTracked } from './ptyb.js';

/** The guest's shell prompt (it has no login: /init starts a root shell on ttyS0). */
export const PROMPT = 'guest# ';

/** The guest's kernel and initramfs, built once and cached by the script (it downloads Debian's kernel). */
export async function guestFiles(): Promise<{ kernel: string; initrd: string }> {
  const { stdout } = await promisify(execFile)(path.join(ROOT, 'test/helpers/qemu-guest.sh'), { timeout: 300_000 });
  const [kernel, initrd] = stdout.trim().split('\n');
  return { kernel: kernel!, initrd: initrd! };
}

/** What QEMU said and how it ended, for the report of a test that timed out. */
export const guestEvents: string[] = [];

/**
 * Boots the guest with its first serial port on `serial` (a QEMU -serial chardev: it listens there).
 * `append`: the kernel's command line (without `quiet` the kernel's own lines show, "Linux version" first).
 */
export function startGuest(files: { kernel: string; initrd: string }, serial: string, append = 'console=ttyS0 quiet panic=-1'): ChildProcess {
  const qemu = spawnTracked(
    'qemu-system-x86_64',
    [
      '-nodefaults',
      '-no-user-config',
      '-display',
      'none',
      '-no-reboot',
      '-m',
      '96',
      '-kernel',
      files.kernel,
      '-initrd',
      files.initrd,
      '-append',
      append,
      '-serial',
      serial,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  guestEvents.push(`qemu ${qemu.pid} started, -serial ${serial}`);
  qemu.stderr!.on('data', (d: Buffer) => guestEvents.push(`qemu ${qemu.pid}: ${d.toString().trimEnd()}`));
  qemu.once('exit', (code, signal) => guestEvents.push(`qemu ${qemu.pid} exited (${signal ?? code})`));
  return qemu;
}

export async function stopGuest(qemu: ChildProcess | undefined): Promise<void> {
  if (!qemu || qemu.exitCode !== null || qemu.signalCode !== null) return;
  const exited = once(qemu, 'exit');
  qemu.kill('SIGKILL');
  await exited;
}

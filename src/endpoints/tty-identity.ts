// Shared by pty: and serial: — whether a lost terminal device may be reopened by its path without reaching somebody else's terminal.
import fs from 'node:fs';
import type { Reopen } from '../core/link.js';

/** Unix98 pty slaves (/dev/pts/N) have majors 136–143 on Linux. */
const PTY_SLAVE_MAJORS = [136n, 143n] as const;

/**
 * What the hub may do once the device opened at `path` (resolved to the node `real`) is lost.
 *
 * A pty lives exactly as long as its master: once the master closes, that terminal is gone for
 * good, and the kernel gives its number to the next pty anybody opens (an ssh login, another
 * VM). So a bare `/dev/pts/N` is never reopened. A symlink to a pty (`pty:?link=`, QEMU 9's
 * `-chardev pty,path=`) is followed again only once it is a new symlink — its owner made it for
 * the new pty; a stale one still points at the old number, now another terminal. Any other
 * device (a USB serial port replugged) is reopened as before: undefined.
 *
 * `link` is the symlink's identity as lstat saw it when the device was opened.
 */
export function reopenAfterLoss(path: string, real: string, link: LinkIdentity | undefined): Reopen | undefined {
  if (!isPtySlave(real)) return undefined;
  if (!link) {
    return {
      never:
        `a numbered pty does not come back: the kernel gives ${real} to the next terminal anybody opens. ` +
        `To follow a VM's console across restarts, share its console socket (unix:/path/to/console.sock?share) ` +
        `or name a symlink its owner keeps up to date (QEMU's -chardev pty,path=LINK; pty:?link=)`,
    };
  }
  return {
    async ready() {
      const now = await identify(path);
      if (now === 'missing') return `the link ${path} is gone; waiting for its owner to make it again`;
      if (now !== undefined && now !== link.id) return undefined; // a new symlink: follow it
      const there = fs.existsSync(link.target) ? 'now another terminal' : 'gone';
      return `the link ${path} still points to ${link.target}, which is ${there}; waiting for its owner to re-make the link`;
    },
  };
}

/** A symlink as it was when read: its inode and change time (a re-made link differs in both), and where it pointed. */
export interface LinkIdentity {
  id: string;
  target: string;
}

/** The identity of the symlink at `path` now; undefined if `path` is not a symlink. */
export async function linkIdentity(path: string): Promise<LinkIdentity | undefined> {
  const id = await identify(path);
  if (id === undefined || id === 'missing') return undefined;
  return { id, target: await fs.promises.realpath(path).catch(() => '') };
}

async function identify(path: string): Promise<string | 'missing' | undefined> {
  let st: fs.BigIntStats;
  try {
    st = await fs.promises.lstat(path, { bigint: true });
  } catch {
    return 'missing';
  }
  if (!st.isSymbolicLink()) return undefined;
  return `${st.dev}:${st.ino}:${st.ctimeNs}:${st.birthtimeNs}`;
}

/** Whether `real` is a pty slave: by its device number, or by where devpts keeps them. */
export function isPtySlave(real: string): boolean {
  try {
    const st = fs.statSync(real, { bigint: true });
    if (!st.isCharacterDevice()) return false;
    const major = ((st.rdev >> 8n) & 0xfffn) | ((st.rdev >> 32n) & ~0xfffn);
    if (major >= PTY_SLAVE_MAJORS[0] && major <= PTY_SLAVE_MAJORS[1]) return true;
  } catch {
    // gone already: decide by the name
  }
  return /^\/dev\/pts\/\d+$/.test(real);
}

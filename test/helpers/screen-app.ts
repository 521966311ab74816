// The full-screen app of the late-joiner tests: alternate screen, a title, a footer and a clock, as bytes and as a busybox shell script that draws the same bytes (for a QEMU guest).
export const CLOCKS = 3000;
export const clock = (i: number) => `T${String(i).padStart(5, '0')}`;
export const LAST = clock(CLOCKS - 1);
export const APP_TITLE = 'the-app-title';

const HEAD = `\x1b]0;${APP_TITLE}\x07\x1b[?1049h\x1b[H\x1b[2J\x1b[?1h\x1b[?2004h\x1b[3;30H\x1b[1;33mBIOS SETUP TITLE\x1b[0m\x1b[24;1H\x1b[7mF1 Help  F10 Save and exit\x1b[0m`;
const TAIL = '\x1b[12;5H';

/** A full-screen app: alternate screen, a title on row 3, a footer on row 24, then ~30 KiB of clock updates top right. */
export function app(): Buffer {
  let s = HEAD;
  for (let i = 0; i < CLOCKS; i++) s += `\x1b[1;70H${clock(i)}`;
  return Buffer.from(s + TAIL);
}

/** printf's octal escapes for a text (no quote or % can break out of the format). */
const octal = (s: string) => [...Buffer.from(s, 'latin1')].map((b) => `\\${b.toString(8).padStart(3, '0')}`).join('');

/** One shell line that writes app()'s bytes, then waits for a line on its terminal. */
export function appShellLine(): string {
  return `printf '${octal(HEAD)}'; i=0; while [ $i -lt ${CLOCKS} ]; do printf '\\033[1;70HT%05d' $i; i=$((i+1)); done; printf '${octal(TAIL)}'; read x`;
}

// stdio: and "-" — this process's stdin and stdout as one link (no raw mode; see stdioStream).
import { UsageError } from '../errors.js';
import { quoteUri } from '../uri.js';
import type { ConnectingType } from '../core/endpoint.js';
import { oneOf, text, defineOptions } from '../options.js';
import { parseEscapeChar } from '../protocols/escapes.js';
import { interactiveStdio } from './stdio-tty.js';
import { stdioStream } from './stdio-stream.js';

const stdioOptions = defineOptions({
  escape: text(
    '~',
    'at a terminal: the escape key at line start (~. disconnects, ~b sends BREAK, ~? lists them); one character, ^X, or none (also --escape)',
    'one character, ^X or none',
  ),
  raw: oneOf(['auto', 'off'], 'auto', 'auto: a terminal on stdin goes into raw mode with escapes (the interactive client); off: leave the terminal as it is'),
});

export const stdio: ConnectingType<'', typeof stdioOptions> = {
  scheme: 'stdio',
  role: 'connecting',
  sharing: 'device',
  exclusiveResource: 'stdio',
  summary: 'this process\'s stdin and stdout ("-" for short)',
  targetForm: '',
  examples: [
    'ptybridge - tcp:localhost:23000          # interactive: ~. quits, ~b sends BREAK',
    "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | ptybridge - tcp:example.org:80",
    'ptybridge - unix:/run/qemu/serial0.sock',
  ],
  notes: [
    "The end of stdin half-closes the other side; the other side's end closes stdout. Once either has ended, the other direction gets 0.5 s of silence (-t) and ptybridge exits, as socat does.",
    'On a terminal, stdin goes into raw mode (keys go through at once, ^C reaches the far side) and is restored on exit; ~. at line start disconnects. Piped stdin is passed byte for byte. Only one stdio per route.',
  ],
  options: stdioOptions,
  parseTarget: (target, uri) => {
    if (target !== '') throw new UsageError(`${quoteUri(uri)}: stdio takes no target: write "-" or "stdio:"`);
    return '';
  },
  validate(spec) {
    try {
      parseEscapeChar(spec.options.escape ?? '~');
    } catch (err) {
      throw new UsageError(`${quoteUri(spec.uri)}: option "escape" expects ${(err as Error).message}`);
    }
  },
  open: async (spec) => {
    const link =
      spec.options.raw === 'auto'
        ? interactiveStdio(parseEscapeChar(spec.options.escape ?? '~'), (hint) => process.stderr.write(`ptybridge: ${hint}\r\n`))
        : { stream: stdioStream(), label: 'stdio' };
    // Behind a door: stdin's end leaves stdout open for peers; once closed, neither comes back.
    return { ...link, endIsNotLoss: 'stdio: stdin ended; what peers send still goes to stdout', reopen: { never: 'stdin and stdout cannot be opened again' } };
  },
};

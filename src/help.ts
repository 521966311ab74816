// --help and --help SCHEME, generated from the registry and each type's option schema.
import { describeOptions } from './options.js';
import { aliasesOf, registry, findType } from './endpoints/registry.js';
import type { EndpointType } from './core/endpoint.js';
import { UsageError } from './errors.js';
import { didYouMean, quoted } from './uri.js';
import { VERSION } from './version.js';

export { VERSION };

export function usage(): string {
  const rows = registry.map((t) => {
    const aliases = aliasesOf(t);
    return `  ${`${t.scheme}:${t.targetForm}`.padEnd(34)} ${t.summary}${aliases.length ? ` (also ${aliases.join(', ')}:)` : ''}`;
  });
  return `ptybridge ${VERSION} — connect two byte streams named by URIs, built for consoles

Usage: ptybridge [options] LEFT RIGHT
       ptybridge [options] DEVICE LISTENER [LISTENER…]   one console, many doors
       ptybridge [options] --config consoles.yaml [--check]
       ptybridge expect http://HOST:PORT/NAME 'login:' --send 'root\\n' --expect '# '   drive a console (docs/CONSOLE-API.md)
       ptybridge mcp http://HOST:PORT [--token-file FILE]   MCP tools over stdio for the same API
       ptybridge mcp --config consoles.yaml [--view]   the same, for routes it runs itself
       ptybridge play FILE.cast [--speed N] [--at SECONDS] [--max]   play a recorded console
       ptybridge history DIR [--since boot|-1h|TIME] [--text|--marks]   what a console recorded
       ptybridge --check LEFT RIGHT  print the route's plan, open nothing
       ptybridge --help SCHEME     options of one address type (or of play, history, mcp)

Addresses are scheme:target?key=value&flag; "-" is stdio. The target and each value are
percent-decoded once: %3F is ?, %26 is &, %25 is %, %20 a space; a + stays a plus, and a %
not followed by two hex digits stays as typed (ws: targets are URLs and go as written).
${rows.join('\n')}

Options:
  -h, --help [SCHEME]   this text, or the options of one scheme (or of play, history, mcp)
  -V, --version         print the version; with -v, whether the native addons load here
  -v, --verbose         more logging (peers, byte counts); twice for debug
  -q, --quiet           only errors
  -x, --hex             hex trace of both directions to stderr, like socat -x: ">" from
                        the left address (or the shared device), "<" back to it
  --log FILE            append a transcript of the device side's output (the shared
                        device, else the left side), with timestamps at line starts and
                        peer connect/leave and device lost/reopened events
  --log-max-size SIZE   with --log: rotate the transcript once it would pass SIZE (such
                        as 16M; without it the file is never rotated); FILE.1 is the newest
  --log-keep N          with --log: old transcripts kept on rotation (default 5)
  --history ROOT        record every shared device in ROOT/<console>/ as asciicast v2
                        files, one per boot (?history=DIR for one device; ?history-max,
                        ?mark=REGEX; docs/HISTORY.md); a config file's history: ROOT
  --log-fifo            with --log: FILE may be a FIFO (refused otherwise); bytes written
                        while no reader is there are counted as lost, never waited for
  --escape CHAR         interactive client's escape key at line start (default ~; ^X; none)
  -t, --linger TIME     when one side ends, the other has TIME of silence to finish before
                        both close, like socat -t (default 0.5 s; 2, 500ms, 1m); a reader
                        still taking what it is owed is waited for (cut after 10 s idle)
  --config FILE         run the routes of a YAML file (version: 1, routes: [{name, left,
                        right (or device, doors: [...]), options: {log, log-max-size,
                        log-keep, log-fifo, hex, policy}}]);
                        SIGHUP reloads it, keeping the peers of unchanged routes
  --check               validate and print the plan (pipe, fork, rendezvous or hub) of the
                        addresses or of each --config route, with every option; open nothing
  --wait-for-device     a shared device that cannot be opened at start is waited for (shown
                        down, retried like a lost one) while the listeners serve; always so
                        with --config. Not for a bare /dev/pts/N (its number gets reused)
  --metrics [HOST:]PORT Prometheus metrics on http://HOST:PORT/metrics (per console: device
                        up, reopens, bytes, peers by door, dropped, refused; the process's
                        CPU, RSS, fds), /healthz and /api/consoles (JSON); a bare port is
                        loopback only
  --log-format FORMAT   text (default) or json: each log line one JSON object (time, level,
                        route, event, message and the line's fields)

Examples:
  ptybridge pty:/dev/pts/4 tcp-listen:23000       # a VM's serial console on TCP (loopback)
  ptybridge pty:/dev/pts/4 tcp-listen:23000?telnet ws-listen:8080
                                                  # the same console by telnet and in a browser
  ptybridge tcp-listen:8000 tcp:localhost:80      # forward a port, one upstream per peer
  ptybridge - tcp:localhost:23000                 # talk to a TCP server from this terminal

A listener given a bare port binds 127.0.0.1 only; write 0.0.0.0:PORT to expose it.
Exit status: 0 done, 1 an endpoint failed, 2 bad usage.
`;
}

export function schemeHelp(name: string): string {
  if (Object.hasOwn(SUBCOMMANDS, name)) return subcommandHelp(name as keyof typeof SUBCOMMANDS);
  const t = findType(name === '-' ? 'stdio' : name.replace(/:$/, ''));
  if (!t) {
    const hint = didYouMean(
      name,
      registry.map((r) => r.scheme),
    );
    throw new UsageError(`--help: unknown scheme ${quoted(name)}${hint ? ` (did you mean "${hint}"?)` : ''}`);
  }
  return describeType(t);
}

function describeType(t: EndpointType): string {
  const opts = describeOptions(t.options);
  const lines = [`${t.scheme}:${t.targetForm} — ${t.summary}`];
  const aliases = aliasesOf(t);
  if (aliases.length) lines.push(`aliases: ${aliases.map((a) => `${a}:`).join(', ')}`);
  lines.push(
    `role: ${t.role}${t.role === 'connecting' ? `, ${t.sharing === 'device' ? 'a shared device behind a listener (hub)' : 'one fresh link per peer behind a listener'}` : ''}`,
  );
  lines.push('', 'options:');
  if (!opts.length) lines.push('  (none)');
  for (const o of opts) {
    lines.push(`  ${o.name.padEnd(12)} ${o.expected}${o.default !== '' ? ` (default ${o.default})` : ''}`);
    lines.push(`  ${''.padEnd(12)} ${o.description}`);
  }
  if (t.notes?.length) lines.push('', 'notes:', ...t.notes.map((n) => `  ${n}`));
  lines.push('', 'examples:', ...t.examples.map((e) => `  ${e}`));
  return lines.join('\n') + '\n';
}

/** `--help play`, `--help history`, `ptybridge play --help`: the commands that read recorded history (docs/HISTORY-PLAY.md). */
const SUBCOMMANDS = {
  play: `ptybridge play FILE.cast [--speed N] [--idle-limit SECONDS] [--at SECONDS] [--max]

Writes the output ("o" events) of an asciicast v2 recording to stdout at its recorded pace,
as asciinema play does: a console's history file (?history=DIR), or any asciinema recording.
Input, resize and marker events are not played. A torn last line (the recorder was killed,
or is still writing) is left out.

options:
  -s, --speed N            play N times as fast (default 1; 0.5 is half speed)
  -i, --idle-limit SECONDS no pause longer than SECONDS (default: the file's idle_time_limit,
                           else none)
  --at SECONDS             start at SECONDS into the recording: what comes before is written
                           at once, then the recorded pace (ptybridge history --marks shows
                           each mark's SECONDS)
  --max                    no waiting at all (the same bytes as asciinema cat)

keys (when stdin is a terminal): q or Ctrl-C stops, space pauses and resumes; the
terminal's settings are given back on every way out.

exit status: 0 played or stopped; 1 the file cannot be read or is not asciicast v2 (the
message names the file and line); 2 bad arguments.

examples:
  ptybridge play /var/lib/ptybridge/history/board/2026-12-05T23-00-00.000Z.cast --idle-limit 2
  ptybridge play crash.cast --at 812.5 --speed 4
`,
  history: `ptybridge history DIR|FILE.cast [--since WHEN] [--text | --marks]

Prints what a console recorded (DIR: its history directory, ?history=DIR or --history
ROOT/CONSOLE), in order across its files: one per boot of the device and one per 16 MiB
step. Without --since, everything still on disk (?history-max removes the oldest files).

options:
  --since WHEN   boot or last-boot: from the last boot on; N-boots-ago: from the boot N
                 before the last (1-boots-ago is the one before); an ISO time
                 (2026-12-05T23:00:00Z; without Z or an offset, local time); -DURATION back
                 from now (-10m, -1h30m, -2d). Asking for more boots than are kept prints
                 everything, with a warning
  --text         plain text lines for grep: escape sequences and CRs removed, backspaces
                 applied; each boot starts on a new line
  --marks        the marks instead of the output, one a line: TIME  FILE  SECONDS  LABEL
                 (boot, device lost: WHY, mark: MATCHED TEXT, mark by NAME: LABEL, typed
                 by NAME); play FILE --at SECONDS starts there

exit status: 0 printed (nothing, if nothing is recorded since WHEN); 1 DIR or a file
cannot be read, or holds no history; 2 bad arguments.

examples:
  ptybridge history /var/lib/ptybridge/history/board --since boot --text | grep -n panic
  ptybridge history /var/lib/ptybridge/history/board --since -1h --marks
  ptybridge history board/ --since 1-boots-ago > last-two-boots.out
`,
  mcp: `ptybridge mcp http://HOST:PORT [--token-file FILE]
ptybridge mcp --config FILE [--view] [-v|-q]

An MCP server (Model Context Protocol) on stdin/stdout for an AI agent or any MCP client,
with the tools list_consoles, read_screen, read_output, expect and, for the role full, send
(docs/CONSOLE-API.md). Nothing but the protocol goes to stdout; logs go to stderr.

With an address, it drives the consoles of a running ptybridge through their HTTP API
(a ws-listen door); the token (--token-file FILE, else $PTYBRIDGE_TOKEN) gives the role:
a view token gets the read tools only.

With --config, it runs the file's routes itself (the same file as ptybridge --config;
each route still has its doors, for people to watch) and its tools drive their consoles
(routes with a shared device) by their names. It is their operator (role full; --view:
read tools only); what it types is in the transcript as "mcp". A route on stdio is
refused. It stops the routes and restores their devices when stdin closes or on
SIGINT/SIGTERM; SIGHUP does not reload the file.

options:
  --token-file FILE   the token for an address (default: $PTYBRIDGE_TOKEN)
  --config FILE       run these routes here instead of attaching to an address
  --view              with --config: read tools only (no send)
  -v, -q              with --config: more logging (to stderr), or errors only

exit status: 0 stdin closed or stopped by a signal; 1 a route could not start or every
route ended with an error; 2 bad arguments or a bad config file.

examples:
  ptybridge mcp http://127.0.0.1:8022 --token-file ~/.config/ptybridge/board.token
  ptybridge mcp --config /etc/ptybridge/lab.yaml --view
`,
} as const;

export function subcommandHelp(name: keyof typeof SUBCOMMANDS): string {
  return SUBCOMMANDS[name];
}

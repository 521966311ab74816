// --help and --help SCHEME, generated from the registry and each type's option schema.
import { describeOptions } from './options.js';
import { registry, findType } from './endpoints/registry.js';
import type { EndpointType } from './core/endpoint.js';
import { UsageError } from './errors.js';
import { didYouMean, quoted } from './uri.js';
import { VERSION } from './version.js';

export { VERSION };

export function usage(): string {
  const rows = registry.map((t) => {
    const names = [t.scheme, ...(t.aliases ?? [])].join(', ');
    return `  ${`${t.scheme}:${t.targetForm}`.padEnd(34)} ${t.summary}${t.aliases?.length ? ` (also ${names.split(', ').slice(1).join(', ')}:)` : ''}`;
  });
  return `ptybridge ${VERSION} — connect two byte streams named by URIs, built for consoles

Usage: ptybridge [options] LEFT RIGHT
       ptybridge [options] DEVICE LISTENER [LISTENER…]   one console, many doors
       ptybridge [options] --config consoles.yaml [--check]
       ptybridge expect http://HOST:PORT/NAME 'login:' --send 'root\\n' --expect '# '   drive a console (docs/CONSOLE-API.md)
       ptybridge mcp http://HOST:PORT [--token-file FILE]   MCP tools over stdio for the same API
       ptybridge --check LEFT RIGHT  print the route's plan, open nothing
       ptybridge --help SCHEME     options of one address type

Addresses are scheme:target?key=value&flag; "-" is stdio. The target and each value are
percent-decoded once: %3F is ?, %26 is &, %25 is %, %20 a space; a + stays a plus, and a %
not followed by two hex digits stays as typed (ws: targets are URLs and go as written).
${rows.join('\n')}

Options:
  -h, --help [SCHEME]   this text, or the options of one scheme
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
  --log-fifo            with --log: FILE may be a FIFO (refused otherwise); bytes written
                        while no reader is there are counted as lost, never waited for
  --escape CHAR         interactive client's escape key at line start (default ~; ^X; none)
  -t, --linger TIME     when one side ends, the other has TIME of silence to finish before
                        both close, like socat -t (default 0.5 s; 2, 500ms, 1m)
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
  const t = findType(name === '-' ? 'stdio' : name.replace(/:$/, ''));
  if (!t) {
    const hint = didYouMean(name, registry.map((r) => r.scheme));
    throw new UsageError(`--help: unknown scheme ${quoted(name)}${hint ? ` (did you mean "${hint}"?)` : ''}`);
  }
  return describeType(t);
}

function describeType(t: EndpointType): string {
  const opts = describeOptions(t.options);
  const lines = [`${t.scheme}:${t.targetForm} — ${t.summary}`];
  if (t.aliases?.length) lines.push(`aliases: ${t.aliases.map((a) => `${a}:`).join(', ')}`);
  lines.push(`role: ${t.role}${t.role === 'connecting' ? `, ${t.sharing === 'device' ? 'a shared device behind a listener (hub)' : 'one fresh link per peer behind a listener'}` : ''}`);
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

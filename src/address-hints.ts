// Addresses written in another tool's syntax (socat's `TCP-LISTEN:8080,fork`, a browser's `http://`): the ptybridge spelling to suggest.

/** socat options that ptybridge does without being asked: fork (a door gives each peer its own link), reuseaddr (Node binds with SO_REUSEADDR). */
const SOCAT_DEFAULTS = new Set(['fork', 'reuseaddr']);

/**
 * A hint for an address that failed to parse because it is written as socat writes one
 * (`TCP-LISTEN:8080,fork,bind=…`): the ptybridge spelling, options after `?` joined by `&`,
 * with socat's defaults dropped. Undefined when it does not look like socat's syntax.
 */
export function socatHint(uri: string): string | undefined {
  const m = /^([A-Za-z][A-Za-z0-9-]*):([^?,]*),([^?]+)$/.exec(uri);
  if (!m) return undefined;
  const opts = m[3]!.split(',');
  if (!opts.every((o) => /^[a-z][a-z0-9-]*(=[^,]*)?$/i.test(o))) return undefined;
  const name = (o: string) => o.split('=')[0]!.toLowerCase();
  const kept = opts.filter((o) => !SOCAT_DEFAULTS.has(name(o)));
  const spelling = `${m[1]!.toLowerCase()}:${m[2]}${kept.length ? `?${kept.join('&')}` : ''}`;
  const fork = opts.some((o) => name(o) === 'fork') ? ' (fork is what a listener does already: each peer gets its own connection)' : '';
  return `this is socat's syntax: ptybridge writes options after "?", joined by "&": ${spelling}${fork}`;
}

/** `http://host/` and `https://…` name a web page; a WebSocket peer is `ws://` or `wss://`. */
export function urlSchemeHint(uri: string): string | undefined {
  const m = /^(https?):(.*)$/is.exec(uri);
  if (!m) return undefined;
  return `${m[1]!.toLowerCase() === 'https' ? 'wss' : 'ws'}:${m[2]}`;
}

/**
 * `printf 'echo hi\n' | ptybridge - exec:bash`: stdin is a script, not a terminal, but the
 * command runs on a pty, so its prompt, echo and terminal codes (`ESC[?2004h`) come back
 * with the output. The hint to give then: `?pipes`. Undefined when it does not apply.
 */
export function pipesHint(addresses: { spec: { scheme: string; uri: string; options: unknown } }[], stdinIsTty: boolean): string | undefined {
  if (stdinIsTty || !addresses.some((e) => e.spec.scheme === 'stdio')) return undefined;
  const exec = addresses.find((e) => e.spec.scheme === 'exec' && !(e.spec.options as { pipes?: boolean }).pipes);
  if (!exec) return undefined;
  return `stdin is not a terminal, and ${exec.spec.uri} runs on a pty: its prompt, echo and terminal codes come back with the output; for a script, add ?pipes (plain pipes, as socat's EXEC)`;
}

// `ptybridge mcp URL` / `ptybridge mcp --config FILE`: an MCP server on stdio (the official SDK) whose tools drive consoles through the HTTP console API, of a running ptybridge or of routes run here; a view token (or --view) gets the read tools only.
import { z } from 'zod';
import { UsageError } from '../errors.js';
import { ApiClient, parseConsoleUrl, tokenFrom, type Answer } from './api-client.js';
import { createLogger, levelFrom, type Level } from '../log.js';
import type { SignalGate } from '../signals.js';
import { exitAfterDeadline } from '../stop-deadline.js';
import { VERSION } from '../version.js';

type ToolResult = { content: { type: 'text'; text: string }[]; isError?: boolean };

const result = (a: Answer): ToolResult => ({ content: [{ type: 'text', text: JSON.stringify(a.body) }], ...(a.status === 200 ? {} : { isError: true }) });

const USAGE = 'usage: ptybridge mcp http://HOST:PORT [--token-file FILE] (or $PTYBRIDGE_TOKEN), or ptybridge mcp --config FILE [--view] [-v|-q]';

export async function mcpMain(argv: string[], signals: SignalGate): Promise<number> {
  let url: string | undefined;
  let tokenFile: string | undefined;
  let config: string | undefined;
  let view = false;
  let verbose = 0;
  let quiet = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--token-file' || a === '--config') {
      const v = argv[++i];
      if (v === undefined) throw new UsageError(`ptybridge mcp: ${a} needs a file; ${USAGE}`);
      if (a === '--config') config = v;
      else tokenFile = v;
    } else if (a === '--help' || a === '-h') {
      const { subcommandHelp } = await import('../help.js');
      process.stdout.write(subcommandHelp('mcp'));
      return 0;
    } else if (a === '--view') view = true;
    else if (a === '-v' || a === '--verbose') verbose++;
    else if (a === '-q' || a === '--quiet') quiet = true;
    else if (a.startsWith('-')) throw new UsageError(`ptybridge mcp: unknown option ${a}; expected --config FILE, --view, --token-file FILE, -v or -q`);
    else if (url !== undefined) throw new UsageError(`ptybridge mcp: one address, got ${url} and ${a}`);
    else url = a;
  }
  if (config !== undefined) {
    if (url !== undefined || tokenFile !== undefined)
      throw new UsageError(`ptybridge mcp --config runs its own routes: it takes no address or --token-file (got ${url ?? `--token-file ${tokenFile}`})`);
    return mcpOnConfig(config, view, levelFrom(verbose, quiet), signals);
  }
  if (view) throw new UsageError('ptybridge mcp: --view goes with --config; with an address, the token says the role (give a view token)');
  if (url === undefined) throw new UsageError(USAGE);
  // Nothing here to close in order: a signal ends the process as it would any client (main holds them from its first line).
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) signals.release(sig);
  const { base } = parseConsoleUrl(url, false);
  const client = new ApiClient(base, await tokenFrom(tokenFile, 'ptybridge mcp'));
  await serveMcp(client);
  // Runs until the client closes stdin.
  await stdinClosed();
  return 0;
}

const stdinClosed = () => new Promise<void>((resolve) => process.stdin.once('close', resolve).once('end', resolve));

/**
 * Runs the config's routes here and serves their consoles until stdin closes, SIGINT/SIGTERM,
 * or every route has ended; then stops them (each restores its device). The MCP process is
 * the operator (role full) unless --view.
 */
async function mcpOnConfig(file: string, view: boolean, level: Level, signals: SignalGate): Promise<number> {
  const log = createLogger(level);
  const [{ loadConfig }, { refuseStdio, startLocalConsoles }] = await Promise.all([import('../config.js'), import('./mcp-routes.js')]);
  const configs = loadConfig(file);
  refuseStdio(configs);
  let stop: (sig?: NodeJS.Signals) => void = () => {};
  const stopped = new Promise<NodeJS.Signals | undefined>((resolve) => (stop = resolve));
  // A signal while the routes start is held and ends the run as soon as they are up.
  signals.on('SIGINT', stop);
  signals.on('SIGTERM', stop);
  signals.on('SIGHUP', () => log.warn('SIGHUP: ptybridge mcp --config does not reload its file; restart it', { event: 'reload-refused' }));
  const local = await startLocalConsoles(configs, level, log, view ? 'view' : 'full');
  try {
    await serveMcp(new ApiClient(local.base, local.token));
    const why = await Promise.race([stopped, stdinClosed().then(() => 'stdin closed' as const), local.done.then((code) => ({ code }))]);
    if (typeof why === 'object') return why.code;
    log.info(`${why ?? 'stop'}: closing`, { event: 'stopping', ...(why && why !== 'stdin closed' ? { signal: why } : {}) });
    if (why && why !== 'stdin closed') {
      exitAfterDeadline(why, log);
      signals.on(why as 'SIGINT' | 'SIGTERM', () => process.exit(0));
    }
    return 0;
  } finally {
    await local.stop();
  }
}

/** The MCP server on stdio, its tools calling `client`; the role decides which tools exist. */
async function serveMcp(client: ApiClient): Promise<void> {
  // The role decides which tools exist: a view token is never offered `send`.
  const who = await client.call('/api/consoles');
  if (who.status !== 200) throw new UsageError(`ptybridge mcp: ${client.base}: ${who.status} ${who.body.error ?? ''}`.trim());
  const { McpServer } = await import('@modelcontextprotocol/sdk/server/mcp.js');
  const { StdioServerTransport } = await import('@modelcontextprotocol/sdk/server/stdio.js');
  const server = new McpServer({ name: 'ptybridge', version: VERSION });
  const path = (name: string, action: string) => `/api/consoles/${encodeURIComponent(name)}/${action}`;
  const console_ = z.string().describe('the console name, from list_consoles');
  server.registerTool(
    'list_consoles',
    { description: 'The consoles on this ptybridge, and the role of this token (full may send, view only reads).' },
    async () => result(await client.call('/api/consoles')),
  );
  server.registerTool(
    'read_screen',
    {
      description: 'The console screen as rows of text, with the cursor, the title and whether a full-screen app is on (the route needs ?replay=screen).',
      inputSchema: { console: console_ },
    },
    async ({ console }) => result(await client.call(path(console, 'screen'))),
  );
  server.registerTool(
    'read_output',
    {
      description: 'Output since a cursor (`next` of an earlier call; omit for now). gap=true: some output was older than the ring.',
      inputSchema: { console: console_, since: z.number().int().min(0).optional() },
    },
    async ({ console, since }) => result(await client.call(`${path(console, 'output')}${since === undefined ? '' : `?since=${since}`}`)),
  );
  server.registerTool(
    'expect',
    {
      description:
        'Waits for a regular expression in the output from `since` (a cursor from an earlier call; omit for now). Answers the match, groups, the text before it and the next cursor; isError on timeout with what was seen.',
      inputSchema: {
        console: console_,
        regex: z.string().max(1024),
        since: z.number().int().min(0).optional(),
        timeout: z.number().int().min(0).max(60_000).optional(),
      },
    },
    async ({ console, regex, since, timeout }) => result(await client.call(path(console, 'expect'), { regex, since, timeout })),
  );
  if (who.body.role === 'full') {
    server.registerTool(
      'send',
      {
        description:
          'Types into the console: text (escapes \\n \\r \\t \\e \\xHH) and/or keys such as Enter, Tab, Escape, Ctrl-C, Up. Answers the output cursor from before the input: pass it to expect.',
        inputSchema: { console: console_, text: z.string().max(60_000).optional(), keys: z.array(z.string()).max(100).optional() },
      },
      async ({ console, text, keys }) => result(await client.call(path(console, 'send'), { text, keys })),
    );
  }
  await server.connect(new StdioServerTransport());
}

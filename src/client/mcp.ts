// `ptybridge mcp URL`: an MCP server on stdio (the official SDK) whose tools drive the consoles of a running ptybridge through its HTTP API; a view token gets the read tools only.
import { z } from 'zod';
import { UsageError } from '../errors.js';
import { ApiClient, parseConsoleUrl, tokenFrom, type Answer } from './api-client.js';
import { VERSION } from '../version.js';

type ToolResult = { content: { type: 'text'; text: string }[]; isError?: boolean };

const result = (a: Answer): ToolResult => ({ content: [{ type: 'text', text: JSON.stringify(a.body) }], ...(a.status === 200 ? {} : { isError: true }) });

export async function mcpMain(argv: string[]): Promise<number> {
  let url: string | undefined;
  let tokenFile: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--token-file') tokenFile = argv[++i];
    else if (argv[i]!.startsWith('-')) throw new UsageError(`ptybridge mcp: unknown option ${argv[i]}; expected --token-file FILE`);
    else url = argv[i];
  }
  if (url === undefined) throw new UsageError('usage: ptybridge mcp http://HOST:PORT [--token-file FILE] (or $PTYBRIDGE_TOKEN)');
  const { base } = parseConsoleUrl(url, false);
  const client = new ApiClient(base, await tokenFrom(tokenFile, 'ptybridge mcp'));
  // The role decides which tools exist: a view token is never offered `send`.
  const who = await client.call('/api/consoles');
  if (who.status !== 200) throw new UsageError(`ptybridge mcp: ${base}: ${who.status} ${who.body.error ?? ''}`.trim());
  const { McpServer } = await import('@modelcontextprotocol/sdk/server/mcp.js');
  const { StdioServerTransport } = await import('@modelcontextprotocol/sdk/server/stdio.js');
  const server = new McpServer({ name: 'ptybridge', version: VERSION });
  const path = (name: string, action: string) => `/api/consoles/${encodeURIComponent(name)}/${action}`;
  const console_ = z.string().describe('the console name, from list_consoles');
  server.registerTool('list_consoles', { description: 'The consoles on this ptybridge, and the role of this token (full may send, view only reads).' }, async () => result(await client.call('/api/consoles')));
  server.registerTool('read_screen', { description: 'The console screen as rows of text, with the cursor, the title and whether a full-screen app is on (the route needs ?replay=screen).', inputSchema: { console: console_ } }, async ({ console }) => result(await client.call(path(console, 'screen'))));
  server.registerTool('read_output', { description: 'Output since a cursor (`next` of an earlier call; omit for now). gap=true: some output was older than the ring.', inputSchema: { console: console_, since: z.number().int().min(0).optional() } }, async ({ console, since }) => result(await client.call(`${path(console, 'output')}${since === undefined ? '' : `?since=${since}`}`)));
  server.registerTool('expect', { description: 'Waits for a regular expression in the output from `since` (a cursor from an earlier call; omit for now). Answers the match, groups, the text before it and the next cursor; isError on timeout with what was seen.', inputSchema: { console: console_, regex: z.string().max(1024), since: z.number().int().min(0).optional(), timeout: z.number().int().min(0).max(60_000).optional() } }, async ({ console, regex, since, timeout }) => result(await client.call(path(console, 'expect'), { regex, since, timeout })));
  if (who.body.role === 'full') {
    server.registerTool('send', { description: 'Types into the console: text (escapes \\n \\r \\t \\e \\xHH) and/or keys such as Enter, Tab, Escape, Ctrl-C, Up. Answers the output cursor from before the input: pass it to expect.', inputSchema: { console: console_, text: z.string().max(60_000).optional(), keys: z.array(z.string()).max(100).optional() } }, async ({ console, text, keys }) => result(await client.call(path(console, 'send'), { text, keys })));
  }
  await server.connect(new StdioServerTransport());
  // Runs until the client closes stdin.
  await new Promise<void>((resolve) => process.stdin.once('close', resolve).once('end', resolve));
  return 0;
}

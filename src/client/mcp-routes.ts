// `ptybridge mcp --config FILE`: the config's routes run in this process, and their consoles answer the HTTP console API on a private loopback port that only this process knows the token of, so the MCP tools are the same code as `ptybridge mcp URL`.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Role } from '../core/roles.js';
import { UsageError } from '../errors.js';
import type { Logger, Level } from '../log.js';
import type { Plan } from '../plan/plan.js';
import { RouteSet, type RouteConfig } from '../router/config-runner.js';
import { consoleApis } from '../router/consoles.js';
import { serveConsoleApi } from '../web/console-api.js';

/** The endpoints of a plan, whatever its kind. */
function endpointsOf(plan: Plan) {
  if (plan.kind === 'hub') return [plan.device, ...plan.doors];
  if (plan.kind === 'fork') return [plan.door, plan.upstream];
  return [plan.left, plan.right];
}

/** stdout carries the MCP protocol: a route that reads or writes this process's stdio would corrupt it. */
export function refuseStdio(configs: RouteConfig[]): void {
  for (const c of configs) {
    for (const e of endpointsOf(c.plan)) {
      if (e.type.role === 'connecting' && e.type.exclusiveResource === 'stdio') {
        throw new UsageError(`ptybridge mcp --config: route "${c.name}" uses stdio (${e.spec.uri}), which carries the MCP protocol here; use another address`);
      }
    }
  }
}

/** The running routes and the loopback API the MCP tools call. */
export interface LocalConsoles {
  base: string;
  token: string;
  /** Resolves when every route has ended by itself. */
  done: Promise<number>;
  stop(): Promise<void>;
}

/**
 * Starts the routes (as `ptybridge --config` does), then a server on 127.0.0.1 (port chosen
 * by the OS) answering /api/consoles for them, as user `mcp` with `role`, to a bearer token
 * made here and never written anywhere.
 */
export async function startLocalConsoles(configs: RouteConfig[], level: Level, log: Logger, role: Role): Promise<LocalConsoles> {
  const set = new RouteSet(level, log);
  await set.start(configs);
  const token = randomBytes(32).toString('hex');
  const expected = Buffer.from(`Bearer ${token}`);
  const authorized = (req: http.IncomingMessage) => {
    const got = Buffer.from(req.headers.authorization ?? '');
    return got.length === expected.length && timingSafeEqual(got, expected);
  };
  const find = (name: string) => consoleApis().find((c) => c.name === name)?.api;
  const names = () => consoleApis().map((c) => c.name);
  const server = http.createServer((req, res) => {
    if (!authorized(req)) {
      res.writeHead(401, { 'Content-Type': 'application/json' });
      return void res.end('{"error":"token required"}');
    }
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    serveConsoleApi(req, res, url, { ok: true, role, user: 'mcp', via: 'bearer' }, find, names).catch(() => res.destroy());
  });
  try {
    await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
  } catch (err) {
    await set.stop();
    throw err;
  }
  const { port } = server.address() as AddressInfo;
  return {
    base: `http://127.0.0.1:${port}`,
    token,
    done: set.done,
    async stop() {
      server.closeAllConnections();
      server.close();
      await set.stop();
    },
  };
}

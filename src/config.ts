// The config file (--config consoles.yaml): many routes, each two URIs (or a device and its doors) plus options as on the CLI, validated whole before anything opens.
import { didYouMean, redactSecrets } from './uri.js';
import { readFileSync } from 'node:fs';
import { LineCounter, parseDocument, isMap, isPair, isScalar, type Document } from 'yaml';
import { z } from 'zod';
import { resolve as resolvePath } from 'node:path';
import { ConfigError } from './errors.js';
import { parseEndpoint, type Endpoint } from './endpoints/registry.js';
import { CONFIG_HUB_SHAPE, describePlan, planHub, planPair, type Plan } from './plan/plan.js';
import { formatSize, parseSize } from './options.js';
import type { RouteConfig } from './router/config-runner.js';
import { serverSettingsOf, type WsListenTarget } from './endpoints/ws-listen.js';
import { cannotShare, shareKey, type Sharer } from './web/server.js';

export type { RouteConfig } from './router/config-runner.js';

const sizeText = z.union([z.number().int().min(0), z.string()]).refine((v) => (typeof v === 'number' ? true : parseSize(v) !== undefined), {
  message: 'expected a size such as 4096, 16k or 1M',
});

const routeSchema = z.strictObject({
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'expected a name of letters, digits, ".", "_" or "-" (at most 64)'),
  // Either two ends (left, right: as on the command line), or one shared device and its doors.
  left: z.string().min(1).optional(),
  right: z.string().min(1).optional(),
  device: z.string().min(1).optional(),
  doors: z.array(z.string().min(1)).min(1, 'expected at least one door').optional(),
  options: z
    .strictObject({
      log: z.string().min(1).optional(),
      'log-max-size': sizeText.optional(),
      'log-keep': z.number().int().min(0).max(1000).optional(),
      'log-fifo': z.boolean().optional(),
      hex: z.boolean().optional(),
      policy: z.enum(['shared', 'exclusive', 'readonly']).optional(),
    })
    .optional(),
});

const configSchema = z.strictObject({
  version: z.literal(1, { message: 'expected version: 1' }),
  /** Every shared device records its history in history/<route name>/ (docs/HISTORY.md). */
  history: z.string().min(1).optional(),
  routes: z.array(routeSchema).min(1, 'expected at least one route'),
});

/** Reads, parses and validates a config file; throws ConfigError naming file:line:col and the key. Opens nothing. */
export function loadConfig(file: string): RouteConfig[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  const at = (offset: number | undefined) => {
    const p = lines.linePos(offset ?? 0);
    return `${file}:${p.line}:${p.col}`;
  };
  const yamlError = doc.errors[0];
  if (yamlError) throw new ConfigError(`${at(yamlError.pos[0])}: ${yamlError.message.split('\n')[0]}`);

  let data: unknown;
  try {
    // An alias bomb (a billion laughs) is refused by the yaml library's alias count; that is
    // bad input, said in one line, not an internal error.
    data = doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    throw new ConfigError(`${file}: ${(err as Error).message.split('\n')[0]} (YAML aliases expand to too much)`);
  }
  const result = configSchema.safeParse(data);
  if (!result.success) {
    // A misspelt key (`rihgt:`) also leaves the key it meant missing: name the misspelling.
    const issue = result.error.issues.find((i) => i.code === 'unrecognized_keys') ?? result.error.issues[0]!;
    const path = issue.path.map((p) => (typeof p === 'symbol' ? String(p) : p));
    let where = path;
    let what = issue.message;
    const unknown = issue.code === 'unrecognized_keys';
    if (unknown) {
      where = [...path, issue.keys[0]!];
      const hint = didYouMean(issue.keys[0]!, knownKeyList(path));
      what = `unknown key "${issue.keys[0]}"${hint ? ` (did you mean "${hint}"?)` : ''}${knownKeys(path)}`;
    }
    throw new ConfigError(`${at(offsetOf(doc, where, unknown))}: ${keyName(where)}: ${what}`);
  }

  const routes: RouteConfig[] = [];
  const names = new Map<string, number>();
  const exclusive = new Map<string, string>();
  const webSharers = new Map<string, Sharer[]>();
  const binds: Bind[] = [];
  result.data.routes.forEach((r, i) => {
    const here = (key: string) => at(offsetOf(doc, ['routes', i, key]));
    if (names.has(r.name)) throw new ConfigError(`${here('name')}: routes[${i}].name: "${r.name}" is also the name of routes[${names.get(r.name)}]`);
    names.set(r.name, i);
    const o = r.options ?? {};
    // A route is LEFT RIGHT or DEVICE DOORS…: which keys it has says which, and the planner checks the shape.
    const hubForm = r.device !== undefined || r.doors !== undefined;
    if (hubForm && (r.left !== undefined || r.right !== undefined)) {
      const key = r.left !== undefined ? 'left' : 'right';
      throw new ConfigError(`${here(key)}: routes[${i}].${key}: a route has either left and right, or device and doors, not both`);
    }
    const need = hubForm ? (['device', 'doors'] as const) : (['left', 'right'] as const);
    for (const key of need) {
      if (r[key] === undefined)
        throw new ConfigError(
          `${here(key)}: routes[${i}].${key}: missing: a route has left and right (two ends), or device and doors (one shared device, its listeners)`,
        );
    }
    // Each address with its key in the file (routes[i].doors[1]) and where it is.
    const sides: { key: string; at: string; uri: string }[] = hubForm
      ? [
          { key: 'device', at: here('device'), uri: r.device! },
          ...r.doors!.map((uri, j) => ({ key: `doors[${j}]`, at: at(offsetOf(doc, ['routes', i, 'doors', j])), uri })),
        ]
      : (['left', 'right'] as const).map((key) => ({ key, at: here(key), uri: r[key]! }));
    // `options.policy` is the hub's `?policy=` for the device, unless its URI says otherwise.
    const parsed = sides.map((side) => {
      try {
        const e = parseEndpoint(side.uri);
        return o.policy ? withPolicy(e, o.policy) : e;
      } catch (err) {
        throw new ConfigError(`${side.at}: routes[${i}].${side.key}: ${(err as Error).message}`);
      }
    });
    let plan: Plan;
    try {
      plan = hubForm ? planHub(parsed[0]!, parsed.slice(1), CONFIG_HUB_SHAPE) : planPair(parsed[0]!, parsed[1]!);
    } catch (err) {
      throw new ConfigError(`${here('name')}: route "${r.name}": ${(err as Error).message}`);
    }
    const endpoints = parsed.map((e, j) => ({ ...sides[j]!, e }));
    // stdio and the like exist once per process, not once per route.
    for (const { e } of endpoints) {
      const res = e.type.role === 'connecting' ? e.type.exclusiveResource : undefined;
      if (!res) continue;
      if (exclusive.has(res))
        throw new ConfigError(`${here('name')}: route "${r.name}" uses ${res}, and so does route "${exclusive.get(res)}"; one process has only one`);
      exclusive.set(res, r.name);
    }
    // Routes on one ws-listen address share its server: each needs its own path and the same token, origin, TLS.
    for (const { e, key: side, at: sideAt } of endpoints) {
      if (e.type.scheme !== 'ws-listen') continue;
      const spec = e.spec as unknown as Parameters<typeof serverSettingsOf>[0];
      const settings = serverSettingsOf(spec);
      const key = shareKey(settings);
      if (key === undefined) continue;
      const me: Sharer = { uri: redactSecrets(e.spec.uri), path: (spec.target as WsListenTarget).path, settings };
      const others = webSharers.get(key) ?? [];
      for (const other of others) {
        const why = cannotShare(other, me, key);
        if (why) throw new ConfigError(`${sideAt}: routes[${i}].${side}: ${why}`);
      }
      webSharers.set(key, [...others, me]);
    }
    // Two doors on one address: the second would fail with EADDRINUSE at run time; say so now, naming both.
    for (const { e, key: side, at: sideAt } of endpoints) {
      const bind = bindOf(e, `routes[${i}].${side}`, sideAt);
      if (!bind) continue;
      const other = binds.find((b) => clash(b, bind));
      if (other)
        throw new ConfigError(
          `${bind.at}: ${bind.key}: ${bind.uri} binds ${bind.what}, as ${other.key} does at ${other.at}; one of them would fail with EADDRINUSE`,
        );
      binds.push(bind);
    }
    // An option that cannot take effect is refused, as on the command line (src/main.ts).
    const optionAt = (key: string) => at(offsetOf(doc, ['routes', i, 'options', key], true));
    for (const key of ['log-max-size', 'log-keep', 'log-fifo'] as const) {
      if (o[key] !== undefined && o.log === undefined)
        throw new ConfigError(`${optionAt(key)}: routes[${i}].options.${key}: has no effect without options.log`);
    }
    if (o.policy && plan.kind !== 'hub') {
      throw new ConfigError(
        `${optionAt('policy')}: routes[${i}].options.policy: has no effect here: a policy applies to a shared device (pty:, serial:, file:, stdio:, exec:…?share) behind a listener`,
      );
    }
    const log = o.log
      ? {
          file: o.log,
          maxSize: typeof o['log-max-size'] === 'number' ? o['log-max-size'] : o['log-max-size'] ? parseSize(o['log-max-size'])! : 0,
          keep: o['log-keep'] ?? 5,
          fifo: o['log-fifo'] ?? false,
        }
      : undefined;
    const history = result.data.history;
    routes.push({
      name: r.name,
      plan,
      log,
      hex: o.hex ?? false,
      ...(history !== undefined ? { history } : {}),
      key: JSON.stringify([sides.map((x) => x.uri), o, history]),
    });
  });
  return routes;
}

/** Where a door binds, for finding two that would collide. */
interface Bind {
  space: 'tcp' | 'udp' | 'unix';
  host: string;
  port: number;
  path: string;
  /** "tcp 127.0.0.1:8000" */
  what: string;
  key: string;
  at: string;
  uri: string;
  /** ws-listen routes on one address share one server (checked above): not a clash among themselves. */
  web: boolean;
}

function bindOf(e: Endpoint, key: string, at: string): Bind | undefined {
  if (e.type.role !== 'listening') return undefined;
  const t = e.spec.target as { host?: string; port?: number } | string;
  const uri = redactSecrets(e.spec.uri);
  if (typeof t === 'string') return { space: 'unix', host: '', port: 0, path: resolvePath(t), what: `unix ${resolvePath(t)}`, key, at, uri, web: false };
  if (t.host === undefined || t.port === undefined || t.port === 0) return undefined; // port 0: the OS picks a free one
  const space = e.type.scheme === 'udp-listen' ? 'udp' : 'tcp';
  return {
    space,
    host: t.host,
    port: t.port,
    path: '',
    what: `${space} ${t.host.includes(':') ? `[${t.host}]` : t.host}:${t.port}`,
    key,
    at,
    uri,
    web: e.type.scheme === 'ws-listen',
  };
}

/** Would binding `b` fail because `a` holds its address? Wildcards cover their family (`::` both: Node binds it dual-stack). */
function clash(a: Bind, b: Bind): boolean {
  if (a.space !== b.space) return false;
  if (a.space === 'unix') return a.path === b.path;
  if (a.port !== b.port) return false;
  if (a.web && b.web && a.host === b.host) return false;
  const family = (h: string) => (h.includes(':') ? 6 : /^[\d.]+$/.test(h) ? 4 : 0);
  const covers = (w: string, h: string) => w === '::' || (w === '0.0.0.0' && family(h) !== 6);
  const local = (h: string) => (h === 'localhost' ? ['127.0.0.1', '::1', 'localhost'] : [h]);
  return covers(a.host, b.host) || covers(b.host, a.host) || local(a.host).some((h) => local(b.host).includes(h));
}

/** `options.policy` is the hub's `?policy=` for the route's shared device, unless its URI says otherwise. */
function withPolicy(e: Endpoint, policy: string): Endpoint {
  if (!('policy' in e.type.options.shape) || /[?&]policy=/.test(e.spec.uri)) return e;
  return { ...e, spec: { ...e.spec, options: { ...e.spec.options, policy } } };
}

function keyName(path: (string | number)[]): string {
  return path.reduce<string>((s, p) => (typeof p === 'number' ? `${s}[${p}]` : s ? `${s}.${p}` : p), '') || '(top level)';
}

function knownKeyList(path: (string | number)[]): string[] {
  const shape =
    path.length === 0
      ? configSchema.shape
      : path.length === 2
        ? routeSchema.shape
        : path.at(-1) === 'options'
          ? routeSchema.shape.options.unwrap().shape
          : undefined;
  return shape ? Object.keys(shape) : [];
}

function knownKeys(path: (string | number)[]): string {
  const keys = knownKeyList(path);
  return keys.length ? `; known: ${keys.join(', ')}` : '';
}

/** The start of the value at `path` (of the key with `atKey`); the nearest existing parent when it is missing. */
function offsetOf(doc: Document, path: (string | number)[], atKey = false): number | undefined {
  for (let n = path.length; n >= 0; n--) {
    const parent = n === 0 ? doc.contents : doc.getIn(path.slice(0, n - 1), true);
    if (n === 0) return (parent as { range?: number[] } | null)?.range?.[0];
    const last = path[n - 1];
    if (isMap(parent)) {
      const pair = parent.items.find((p) => isPair(p) && isScalar(p.key) && p.key.value === last);
      if (pair) {
        const v = pair.value as { range?: number[] } | null;
        // Point at the value when there is one (a bad URI), at the key otherwise (an unknown key).
        const k = (pair.key as { range?: number[] }).range?.[0];
        return atKey ? k : (v?.range?.[0] ?? k);
      }
    } else {
      const node = doc.getIn(path.slice(0, n), true) as { range?: number[] } | undefined;
      if (node?.range) return node.range[0];
    }
  }
  return undefined;
}

/** The --check output: each route's plan (src/plan/plan.ts), options with their defaults. */
export function describeRoutes(routes: RouteConfig[]): string {
  return (
    routes
      .map((r) => {
        const [head, ...rest] = describePlan(r.plan);
        return [
          `${r.name}: ${head}`,
          ...rest,
          ...(r.log
            ? [
                `  ${'log'.padEnd(8)}  ${r.log.file} (${r.log.maxSize ? `rotated once it would pass ${sizeWithBytes(r.log.maxSize)}, ${r.log.keep} old files kept` : 'never rotated: no log-max-size'})`,
              ]
            : []),
          ...(r.hex ? ['  hex trace on'] : []),
        ].join('\n');
      })
      .join('\n') + '\n'
  );
}

/** 16777216 -> "16M (16777216 bytes)"; sizes that are not whole units in bytes. */
function sizeWithBytes(n: number): string {
  const written = formatSize(n);
  return written === String(n) ? `${n} bytes` : `${written} (${n} bytes)`;
}

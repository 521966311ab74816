// --metrics [HOST:]PORT: Prometheus text on /metrics (prom-client), /healthz and /api/consoles (JSON) on one small HTTP server, loopback by default.
import http from 'node:http';
import net from 'node:net';
import { hostname } from 'node:os';
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { EndpointError, UsageError } from './errors.js';
import { stderrDroppedLines, type Logger } from './log.js';
import { hostAllowed } from './web/auth.js';
import { snapshotConsoles, type ConsoleCounters, type ConsoleSnapshot } from './router/consoles.js';
import { transcriptStatuses } from './router/transcript.js';
import { formatHostPort, parseHostPort, type HostPort } from './uri.js';
import { VERSION } from './version.js';

/** `--metrics 9464` (loopback), `--metrics 0.0.0.0:9464`, `--metrics [::1]:9464`. */
export function parseMetricsAddress(text: string): HostPort {
  try {
    return parseHostPort(text, `--metrics ${text}`, { listening: true });
  } catch (err) {
    throw new UsageError(
      `--metrics: expected [HOST:]PORT (a bare port listens on loopback only), got "${text}"${err instanceof UsageError ? ` (${err.message.replace(/^.*?: /, '')})` : ''}`,
    );
  }
}

/** One console as /api/consoles gives it. */
export interface ConsoleApiEntry {
  name: string;
  device: string;
  state: 'up' | 'down';
  peers: number;
  peersByDoor: Record<string, number>;
  bytes: { fromDevice: number; toDevice: number };
  reopens: number;
  dropped: number;
  refusedBytes: number;
}

export function consoleApiEntry(c: ConsoleSnapshot): ConsoleApiEntry {
  const k = c.counters;
  const peers = Object.values(c.peers).reduce((a, b) => a + b, 0);
  return {
    name: c.name,
    device: c.device,
    state: c.up ? 'up' : 'down',
    peers,
    peersByDoor: c.peers,
    bytes: { fromDevice: k.fromDevice, toDevice: k.toDevice },
    reopens: k.reopens,
    dropped: k.dropped,
    refusedBytes: k.refused,
  };
}

/**
 * The registry: the process's own metrics (prom-client's defaults: CPU, RSS, fds, start
 * time, heap) and one series per console, read from the consoles' snapshot taken for
 * this scrape. Counters are rebuilt from the hubs' own totals at each scrape, so a console
 * removed by a reload leaves no stale series.
 */
function buildRegistry(current: () => ConsoleSnapshot[]): Registry {
  const register = new Registry();
  // Event-loop delay sampled every second, not every 10 ms: an idle console server stays idle.
  collectDefaultMetrics({ register, eventLoopMonitoringPrecision: 1000 });
  // Gauges that prom-client names *_total, which `promtool check metrics` rejects (a _total is a counter).
  for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) register.removeSingleMetric(name);
  const started = Date.now();
  new Gauge({
    name: 'ptybridge_build_info',
    help: 'ptybridge version (always 1).',
    labelNames: ['version'],
    registers: [register],
    collect() {
      this.set({ version: VERSION }, 1);
    },
  });
  new Gauge({
    name: 'ptybridge_uptime_seconds',
    help: 'Seconds since ptybridge started.',
    registers: [register],
    collect() {
      this.set((Date.now() - started) / 1000);
    },
  });
  new Gauge({
    name: 'ptybridge_consoles',
    help: 'Consoles (routes with a shared device) in this process.',
    registers: [register],
    collect() {
      this.set(current().length);
    },
  });
  new Gauge({
    name: 'ptybridge_console_info',
    help: 'A console and its device (always 1).',
    labelNames: ['console', 'device'],
    registers: [register],
    collect() {
      this.reset();
      for (const c of current()) this.set({ console: c.name, device: c.device }, 1);
    },
  });
  new Gauge({
    name: 'ptybridge_console_up',
    help: "Whether the console's device is open (1) or down, being reopened (0).",
    labelNames: ['console'],
    registers: [register],
    collect() {
      this.reset();
      for (const c of current()) this.set({ console: c.name }, c.up ? 1 : 0);
    },
  });
  new Gauge({
    name: 'ptybridge_console_peers',
    help: 'Peers connected to the console now, by the kind of door they came through.',
    labelNames: ['console', 'door'],
    registers: [register],
    collect() {
      this.reset();
      for (const c of current()) for (const [door, n] of Object.entries(c.peers)) this.set({ console: c.name, door }, n);
    },
  });
  const counter = (name: string, help: string, key: keyof ConsoleCounters) =>
    new Counter({
      name,
      help,
      labelNames: ['console'],
      registers: [register],
      collect() {
        this.reset();
        for (const c of current()) this.inc({ console: c.name }, c.counters[key]);
      },
    });
  counter('ptybridge_console_reopens_total', "Times the console's device came (back) up after being down.", 'reopens');
  counter('ptybridge_console_device_read_bytes_total', "Bytes read from the console's device (its output to the peers).", 'fromDevice');
  counter('ptybridge_console_device_written_bytes_total', "Bytes written to the console's device (peers' input).", 'toDevice');
  counter('ptybridge_console_peers_dropped_total', 'Peers dropped because they stopped reading (queue past ?peer-queue=).', 'dropped');
  // Transcripts (--log) are few and read at each scrape: a stuck or full disk shows here, not only once on stderr.
  new Gauge({
    name: 'ptybridge_log_writing',
    help: 'Whether the transcript (--log) is being written (1) or its target failed, is gone or has no reader (0).',
    labelNames: ['log'],
    registers: [register],
    collect() {
      this.reset();
      for (const t of transcriptStatuses()) this.set({ log: t.path }, t.writing ? 1 : 0);
    },
  });
  new Counter({
    name: 'ptybridge_log_lost_bytes_total',
    help: 'Transcript bytes that never reached it: its target too slow, failing (ENOSPC, EIO), deleted or without a reader.',
    labelNames: ['log'],
    registers: [register],
    collect() {
      this.reset();
      for (const t of transcriptStatuses()) this.inc({ log: t.path }, t.lostBytes);
    },
  });
  new Counter({
    name: 'ptybridge_stderr_dropped_lines_total',
    help: 'Log lines stderr did not take: a pipe nobody read (past 1 MiB waiting), EPIPE, ENOSPC.',
    registers: [register],
    collect() {
      this.reset();
      this.inc(stderrDroppedLines());
    },
  });
  counter(
    'ptybridge_console_input_refused_bytes_total',
    'Bytes of peer input refused: read-only peers, another peer holding the keyboard, device down.',
    'refused',
  );
  return register;
}

export interface MetricsServer {
  /** "http://127.0.0.1:9464". */
  readonly url: string;
  /** /healthz answers 503 from now on: the process is stopping. */
  stopping(): void;
  close(): Promise<void>;
}

/** Binds the metrics server; a bind failure is an EndpointError (exit 1) naming --metrics and the OS error. */
export async function startMetrics(addr: HostPort, log: Logger): Promise<MetricsServer> {
  let snapshot: ConsoleSnapshot[] = [];
  const register = buildRegistry(() => snapshot);
  let healthy = true;
  const names = new Set([hostname().toLowerCase(), ...(net.isIP(addr.host) ? [] : [addr.host.toLowerCase()])]);
  const send = (res: http.ServerResponse, status: number, type: string, body: string) => {
    res.writeHead(status, {
      'Content-Type': type,
      'Cache-Control': 'no-store',
      'X-Content-Type-Options': 'nosniff',
      'Content-Length': String(Buffer.byteLength(body)),
    });
    res.end(res.req.method === 'HEAD' ? undefined : body);
  };
  const server = http.createServer((req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      return send(res, 405, 'text/plain; charset=utf-8', 'method not allowed\n');
    }
    // A rebinding page (attacker.example resolved to 127.0.0.1) must not read the consoles'
    // names, devices and users: only IP literals, localhost and this machine's name.
    if (!hostAllowed(req.headers.host, names))
      return send(res, 403, 'text/plain; charset=utf-8', "host not allowed: use an IP address, localhost or this machine's name\n");
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (path === '/healthz') return send(res, healthy ? 200 : 503, 'text/plain; charset=utf-8', healthy ? 'ok\n' : 'stopping\n');
    if (path === '/api/consoles') return send(res, 200, 'application/json', `${JSON.stringify({ consoles: snapshotConsoles().map(consoleApiEntry) })}\n`);
    if (path !== '/metrics') return send(res, 404, 'text/plain; charset=utf-8', 'not found: /metrics, /healthz, /api/consoles\n');
    snapshot = snapshotConsoles();
    register.metrics().then(
      (text) => send(res, 200, register.contentType, text),
      (err: Error) => send(res, 500, 'text/plain; charset=utf-8', `${err.message}\n`),
    );
  });
  const where = `--metrics ${formatHostPort(addr.host, addr.port)}`;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => reject(new EndpointError(where, err)));
    server.listen({ host: addr.host, port: addr.port }, () => resolve());
  });
  server.on('error', (err) => log.error(`${where}: ${err.message}`));
  const a = server.address() as net.AddressInfo;
  const url = `http://${formatHostPort(a.address, a.port)}`;
  log.notice(`metrics on ${url}/metrics${addr.defaultedHost ? ` (loopback only; --metrics 0.0.0.0:${a.port} to expose)` : ''}`, {
    event: 'metrics-listening',
    url: `${url}/metrics`,
  });
  return {
    url,
    stopping: () => void (healthy = false),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

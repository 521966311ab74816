// Runs the routes of a config file side by side, and applies a reload: added and removed routes start and stop, unchanged ones keep their peers.
import { createLogger, holdLines, releaseLines, writeStderr, type Level, type Logger } from '../log.js';
import { describeOsError, PtybError } from '../errors.js';
import type { Plan } from '../plan/plan.js';
import { exitAfterDeadline } from '../stop-deadline.js';
import type { SignalGate } from '../signals.js';
import { DeviceNotWaitedError } from './hub.js';
import { startPlan, type Route } from './route.js';
import { openTranscript, type Transcript, type TranscriptOptions } from './transcript.js';

/** One route of a config file, checked and planned (src/config.ts reads the file). */
export interface RouteConfig {
  name: string;
  plan: Plan;
  /** Transcript file and its rotation, when `options.log` is set. */
  log?: { file: string } & TranscriptOptions;
  hex: boolean;
  /** --history ROOT or the file's `history:`: a shared device records in ROOT/<name>/. */
  history?: string;
  /** The route's identity for a reload: a route whose key is unchanged keeps its peers. */
  key: string;
}

interface Running {
  config: RouteConfig;
  route: Route;
  transcript?: Transcript;
}

/** Routes starting at once: enough to overlap their opens, few enough to bound fds and children in flight. */
const START_CONCURRENCY = 256;

/** Runs `task` over `items` with at most `limit` at once. */
async function inParallel<T>(items: T[], limit: number, task: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      await task(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/** A logger whose lines say which route they come from: "ptybridge: [name] listening on …". */
function routeLogger(level: Level, name: string, write: (line: string) => void = (line) => writeStderr(line)): Logger {
  return createLogger(level, write, name);
}

/**
 * Keeps the start-up lines in the file's order although the routes start at once: a route's
 * lines ("listening on …") are held until it and every route before it have started, so
 * readers and scripts see the routes come up in order.
 */
class StartOrder {
  private readonly held: (string[] | undefined)[];
  private readonly started: boolean[];
  private next = 0;

  constructor(count: number) {
    this.held = Array.from({ length: count }, () => []);
    this.started = new Array<boolean>(count).fill(false);
  }

  writer(i: number): (line: string) => void {
    return (line) => {
      const h = this.held[i];
      if (h) h.push(line);
      else writeStderr(line);
    };
  }

  /** Route `i` has started (or failed to): lines are let through as far as the order allows. */
  done(i: number): void {
    this.started[i] = true;
    while (this.next < this.held.length && this.started[this.next]) this.release(this.next++);
  }

  /** Lets every held line through (the start ended early: a failure, a stop). */
  releaseAll(): void {
    while (this.next < this.held.length) this.release(this.next++);
  }

  private release(i: number): void {
    const lines = this.held[i];
    this.held[i] = undefined;
    if (lines?.length) writeStderr(lines.join(''));
  }
}

/** The routes of one process; `done` resolves when every route has ended or `stop()` was called. */
export class RouteSet {
  private readonly running = new Map<string, Running>();
  private stopped = false;
  /** The start in progress: a stop waits for it, so that no route comes up after the stop. */
  private starting: Promise<void> = Promise.resolve();
  private resolveDone!: (code: number) => void;
  readonly done = new Promise<number>((r) => (this.resolveDone = r));

  constructor(
    private readonly level: Level,
    private readonly log: Logger,
  ) {}

  /**
   * Starts the routes, several at once (a thousand consoles come up in about a second, not one
   * after another); if one cannot start, no more are started, those already started are
   * stopped and the error is thrown.
   */
  async start(configs: RouteConfig[]): Promise<void> {
    let failure: { err: unknown } | undefined;
    const order = new StartOrder(configs.length);
    // No URL to open is printed for a file whose start then fails.
    holdLines();
    this.starting = inParallel(configs, START_CONCURRENCY, async (c, i) => {
      if (!failure && !this.stopped) await this.startOne(c, order.writer(i)).catch((err: unknown) => void (failure ??= { err }));
      order.done(i);
    });
    await this.starting;
    order.releaseAll();
    releaseLines(!failure);
    if (failure) {
      await this.stop();
      throw failure.err;
    }
    if (this.running.size === 0 && !this.stopped) this.resolveDone(1); // none could start
  }

  private async startOne(config: RouteConfig, write?: (line: string) => void): Promise<void> {
    const log = routeLogger(this.level, config.name, write);
    const trace = config.hex ? (text: string) => writeStderr(`[${config.name}] ${text}`) : undefined;
    let route: Route;
    let transcript: Transcript | undefined;
    try {
      transcript = config.log ? await openTranscript(config.log.file, config.log, log) : undefined;
      // A device missing at start waits (shown down, retried) rather than taking the other routes down.
      route = await startPlan(config.plan, {
        log,
        trace,
        transcript,
        name: config.name,
        waitForDevice: true,
        ...(config.history !== undefined ? { history: config.history } : {}),
      });
    } catch (err) {
      await transcript?.close();
      if (err instanceof DeviceNotWaitedError)
        return this.log.error(`[${config.name}] not started: ${err.message}`, { event: 'route-not-started', name: config.name });
      throw new RouteStartError(config.name, err);
    }
    const entry: Running = { config, route, transcript };
    this.running.set(config.name, entry);
    route.done.then(async (code) => {
      await transcript?.close();
      if (this.running.get(config.name) !== entry) return;
      this.running.delete(config.name);
      if (code !== 0) this.log.error(`[${config.name}] route ended with status ${code}`, { event: 'route-ended', name: config.name, status: code });
      if (this.running.size === 0 && !this.stopped) this.resolveDone(code);
    });
  }

  /**
   * Applies a new config: routes whose name and URIs and options are unchanged keep running
   * (with their peers); the others are stopped, then the new ones started.
   * A route that fails to start is reported and skipped; the others stay.
   */
  async reload(configs: RouteConfig[]): Promise<ReloadSummary> {
    const summary: ReloadSummary = { started: [], restarted: [], failed: [], kept: [], stopped: [] };
    const changed = new Set<string>();
    // A reload during the start waits for it: a route still starting is not in `running`
    // yet, and would be started a second time (EADDRINUSE).
    await this.starting.catch(() => {});
    if (this.stopped) return summary;
    const wanted = new Map(configs.map((c) => [c.name, c]));
    const stopping: Promise<void>[] = [];
    for (const [name, r] of this.running) {
      if (wanted.get(name)?.key === r.config.key) {
        summary.kept.push(name);
        continue;
      }
      this.running.delete(name);
      // A changed route stops and starts again: it counts as restarted (or failed), not as stopped.
      if (wanted.has(name)) changed.add(name);
      else summary.stopped.push(name);
      this.log.notice(`reload: stopping route "${name}"${changed.has(name) ? ' (changed)' : ''}`, { event: 'route-stopping', name });
      stopping.push(r.route.stop().then(() => r.transcript?.close()));
    }
    await Promise.all(stopping);
    for (const c of configs) {
      if (this.running.has(c.name)) continue;
      this.log.notice(`reload: ${changed.has(c.name) ? 'restarting' : 'starting'} route "${c.name}"`, { event: 'route-starting', name: c.name });
      await this.startOne(c).then(
        () => (changed.has(c.name) ? summary.restarted : summary.started).push(c.name),
        (err: Error) => {
          this.log.error(err.message);
          summary.failed.push([c.name, err instanceof RouteStartError ? describeOsError(err.cause) : err.message]);
        },
      );
    }
    return summary;
  }

  /** Stops every route at once (each flushes its peers and restores its device). */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.starting;
    const all = [...this.running.values()];
    this.running.clear();
    await Promise.all(all.map((r) => r.route.stop().then(() => r.transcript?.close())));
    this.resolveDone(0);
  }
}

/** What a reload did, by route name: the log line after SIGHUP says it. */
export interface ReloadSummary {
  /** New in the file. */
  started: string[];
  /** Changed in the file: stopped, then started again with the new settings. */
  restarted: string[];
  /** Name and cause: "EADDRINUSE (address already in use)". */
  failed: [string, string][];
  /** Unchanged, still running with their peers. */
  kept: string[];
  /** Removed from the file. */
  stopped: string[];
}

/** "started "b"; restarted "d"; failed "c" (tcp-listen:…: EADDRINUSE …); kept "a"; stopped none" (restarted only when some were). */
export function describeReload(s: ReloadSummary): string {
  const names = (list: string[]) => (list.length ? list.map((n) => `"${n}"`).join(', ') : 'none');
  const failed = s.failed.length ? s.failed.map(([n, why]) => `"${n}" (${why})`).join(', ') : 'none';
  const restarted = s.restarted.length ? `; restarted ${names(s.restarted)}` : '';
  return `started ${names(s.started)}${restarted}; failed ${failed}; kept ${names(s.kept)}; stopped ${names(s.stopped)}`;
}

/** A route of the config that could not start: names the route and the cause. */
export class RouteStartError extends PtybError {
  constructor(name: string, cause: unknown) {
    super(
      cause instanceof PtybError ? cause.code : 'PTYB_ERR_OPEN',
      `route "${name}": ${describeOsError(cause)}`,
      cause instanceof PtybError ? cause.exitCode : 1,
      { cause },
    );
  }
}

/**
 * Runs a config file until SIGINT/SIGTERM (or every route has ended). SIGHUP reads the file
 * again with `reread` (src/config.ts's loadConfig, which sits above the router): a bad file is
 * reported and the running routes stay as they are.
 */
export async function runConfig(
  file: string,
  configs: RouteConfig[],
  level: Level,
  log: Logger,
  signals: SignalGate,
  onStopping: (() => void) | undefined,
  reread: (file: string) => RouteConfig[],
): Promise<number> {
  const set = new RouteSet(level, log);
  let stopRequested = false;
  const onStop = (sig: NodeJS.Signals) => {
    if (stopRequested) process.exit(0);
    stopRequested = true;
    log.info(`${sig}: closing`, { event: 'stopping', signal: sig });
    exitAfterDeadline(sig, log);
    onStopping?.();
    void set.stop();
  };
  let reloading = Promise.resolve();
  const onHup = () => {
    reloading = reloading.then(async () => {
      let next: RouteConfig[];
      try {
        next = reread(file);
      } catch (err) {
        log.error(`reload refused, routes unchanged: ${(err as Error).message}`);
        return;
      }
      const summary = await set.reload(next);
      const say = summary.failed.length ? log.error : log.notice;
      say(`reloaded ${file}: ${describeReload(summary)}`, {
        event: 'reloaded',
        file,
        started: summary.started.length,
        restarted: summary.restarted.length,
        failed: summary.failed.length,
        kept: summary.kept.length,
        stopped: summary.stopped.length,
      });
    });
  };
  signals.on('SIGINT', onStop);
  signals.on('SIGTERM', onStop);
  signals.on('SIGHUP', onHup);
  await set.start(configs);
  if (stopRequested) void set.stop();
  return set.done;
}

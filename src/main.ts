// The CLI: arguments, start the route, signals, exit codes.
import { parseArgs } from 'node:util';
import { envToken } from './env-token.js';
import { PtybError, UsageError } from './errors.js';
import { createLogger, holdLines, levelFrom, parseLogFormat, releaseLines, setLogFormat, writeStderr, type Logger } from './log.js';
import { didYouMean } from './uri.js';
import type { MetricsServer } from './metrics.js';
import type { Route } from './router/route.js';
import { exitAfterDeadline } from './stop-deadline.js';
import { SignalGate } from './signals.js';
import { VERSION } from './version.js';
// Everything else loads in the branch that needs it (esbuild keeps a dynamically imported
// module's body uninitialised until then): `--version` runs no endpoint code, and a route
// does not parse YAML unless it reads a config file (bench/results-binary.md).

const OPTIONS = {
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'V' },
  verbose: { type: 'boolean', short: 'v', multiple: true },
  quiet: { type: 'boolean', short: 'q' },
  hex: { type: 'boolean', short: 'x' },
  log: { type: 'string' },
  'log-max-size': { type: 'string' },
  'log-keep': { type: 'string' },
  'log-fifo': { type: 'boolean' },
  escape: { type: 'string' },
  linger: { type: 'string', short: 't' },
  config: { type: 'string' },
  check: { type: 'boolean' },
  'wait-for-device': { type: 'boolean' },
  metrics: { type: 'string' },
  'log-format': { type: 'string' },
  history: { type: 'string' },
} as const;

/** Runs ptybridge with the given arguments; resolves with the exit status. */
export async function main(argv: string[]): Promise<number> {
  // First of all: a signal during the loading below is held for its handler, not fatal.
  const signals = new SignalGate();
  // Read once and taken out of the environment before any exec: child can inherit it.
  envToken();
  let log: Logger = createLogger('warn');
  let route: Route | undefined;
  let metrics: MetricsServer | undefined;
  try {
    // Clients of a running ptybridge's console API: their own arguments, loaded only here.
    if (argv[0] === 'expect') {
      // It has nothing to close in order: Ctrl-C or SIGTERM ends it at once, as any client (it was held here, unhandled).
      for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) signals.release(sig);
      return await (await import('./client/expect-cli.js')).expectMain(argv.slice(1));
    }
    if (argv[0] === 'mcp') return await (await import('./client/mcp.js')).mcpMain(argv.slice(1), signals);
    // Readers of recorded history (docs/HISTORY-PLAY.md): files on disk, no running ptybridge.
    if (argv[0] === 'play') return await (await import('./client/play-cli.js')).playMain(argv.slice(1), signals);
    if (argv[0] === 'history') return await (await import('./client/history-cli.js')).historyMain(argv.slice(1), signals);
    const { values, positionals } = parseCli(argv);
    if (values['log-format'] !== undefined) setLogFormat(parseLogFormat(values['log-format']));
    if (values.version) {
      process.stdout.write(`ptybridge ${VERSION} (node ${process.version})\n`);
      // -V -v: also whether the native addons load on this host (the single binary's floor).
      if (values.verbose?.length) {
        const { describeNative } = await import('./native.js');
        process.stdout.write(`${describeNative().join('\n')}\n`);
      }
      return 0;
    }
    if (values.help) {
      const { schemeHelp, usage } = await import('./help.js');
      process.stdout.write(positionals[0] ? schemeHelp(positionals[0]) : usage());
      return 0;
    }
    if (values.config !== undefined) {
      if (positionals.length) throw new UsageError(`--config takes its routes from the file, not from addresses (got ${positionals.join(' ')})`);
      const level = levelFrom(values.verbose?.length ?? 0, values.quiet ?? false);
      log = createLogger(level);
      const { describeRoutes, loadConfig } = await import('./config.js');
      // --history ROOT is the file's `history:` for every route, read again on a reload.
      const load = (file: string) => loadConfig(file).map((c) => (values.history !== undefined ? { ...c, history: values.history } : c));
      const configs = load(values.config);
      if (values.check) {
        process.stdout.write(describeRoutes(configs));
        return 0;
      }
      metrics = await startMetricsFlag(values.metrics, log);
      const { runConfig } = await import('./router/config-runner.js');
      return await runConfig(values.config, configs, level, log, signals, () => metrics?.stopping(), load);
    }
    if (positionals.length < 2) {
      throw new UsageError(`expected two addresses, LEFT and RIGHT (or DEVICE LISTENER…), got ${positionals.length}; see ptybridge --help`);
    }
    signals.release('SIGHUP');
    log = createLogger(levelFrom(values.verbose?.length ?? 0, values.quiet ?? false));
    // Only the endpoint types the addresses name are loaded (endpoints/schemes.ts).
    const [
      { parseAddresses },
      { withEscapeFlag },
      { startPlan },
      { openTranscript, transcriptOptions },
      { refuseIneffectiveFlags },
      { describePlan, planAddresses },
    ] = await Promise.all([
      import('./endpoints/schemes.js'),
      import('./endpoints/stdio-tty.js'),
      import('./router/route.js'),
      import('./router/transcript.js'),
      import('./ineffective-options.js'),
      import('./plan/plan.js'),
    ]);
    const addresses = (await parseAddresses(positionals)).map((e) => withEscapeFlag(e, values.escape));
    refuseIneffectiveFlags(values, addresses);
    const plan = planAddresses(addresses);
    if (values.history !== undefined && plan.kind !== 'hub')
      throw new UsageError('--history has no effect here: it records a shared device (pty:, serial:, exec:…?share) behind a listener');
    if (values.check) {
      process.stdout.write(`${describePlan(plan).join('\n')}\n`);
      return 0;
    }
    const { pipesHint } = await import('./address-hints.js');
    const hint = pipesHint(addresses, process.stdin.isTTY === true);
    if (hint) log.warn(hint, { event: 'hint' });
    metrics = await startMetricsFlag(values.metrics, log);
    const trace = values.hex ? (text: string) => writeStderr(text) : undefined;
    const transcript = values.log ? await openTranscript(values.log, transcriptOptions(values), log) : undefined;
    // A signal that arrived while the route starts (right after "listening on" was printed)
    // or before (held by the gate) must still close it, never kill us mid-way.
    let stopRequested = false;
    const onSignal = (sig: NodeJS.Signals) => {
      if (stopRequested) {
        log.info(`${sig} again: exiting now`);
        process.exit(0);
      }
      stopRequested = true;
      log.info(`${sig}: closing`, { event: 'stopping', signal: sig });
      exitAfterDeadline(sig, log);
      metrics?.stopping();
      route?.stop();
    };
    signals.on('SIGINT', onSignal);
    signals.on('SIGTERM', onSignal);
    const linger = await lingerFrom(values.linger);
    // Several doors: every one is bound before any URL to open is printed.
    const hold = addresses.filter((e) => e.type.role === 'listening').length > 1;
    if (hold) holdLines();
    try {
      route = await startPlan(plan, { log, trace, transcript, linger, waitForDevice: values['wait-for-device'], history: values.history });
    } finally {
      if (hold) releaseLines(route !== undefined);
    }
    if (stopRequested) route.stop();
    const code = await route.done;
    await transcript?.close();
    return code;
  } catch (err) {
    if (err instanceof PtybError) {
      log.error(err.message, { event: err.exitCode === 2 ? 'usage-error' : 'error', code: err.code });
      return err.exitCode;
    }
    throw err;
  } finally {
    await metrics?.close();
  }
}

/** -t like socat's: seconds ("2", "0.5") or a duration ("500ms"). */
async function lingerFrom(raw: string | undefined): Promise<number | undefined> {
  if (raw === undefined) return undefined;
  const { MAX_DURATION_MS, parseDuration } = await import('./options.js');
  const ms = parseDuration(raw);
  if (ms === undefined || ms > MAX_DURATION_MS) throw new UsageError(`-t expects seconds or a duration such as 500ms or 2s, got ${JSON.stringify(raw)}`);
  return ms;
}

/** `--metrics [HOST:]PORT`: prom-client loads only when asked for. */
async function startMetricsFlag(text: string | undefined, log: Logger): Promise<MetricsServer | undefined> {
  if (text === undefined) return undefined;
  const { parseMetricsAddress, startMetrics } = await import('./metrics.js');
  return startMetrics(parseMetricsAddress(text), log);
}

function parseCli(argv: string[]) {
  try {
    return parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (err) {
    const message = (err as Error).message.replace(/\. To specify a positional.*$/s, '');
    const typo = /^Unknown option '--([^'=]+)'/.exec(message)?.[1];
    const hint = typo === undefined ? undefined : didYouMean(typo, Object.keys(OPTIONS));
    throw new UsageError(`${message}${hint ? ` (did you mean "--${hint}"?)` : ''}; see ptybridge --help`);
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
    // Close stdio's handles etc. do not keep us alive once the route is over.
    setImmediate(() => process.exit(code));
  },
  (err) => {
    process.stderr.write(`ptybridge: internal error: ${(err as Error)?.stack ?? err}\n`);
    process.exit(70);
  },
);

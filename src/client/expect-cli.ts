// `ptybridge expect CONSOLE-URL PATTERN [--send TEXT] [--expect PATTERN]…`: a chat script against a running console through its HTTP API; 0 when every pattern matched, 1 on a timeout or refusal.
import { UsageError } from '../errors.js';
import { ApiClient, parseConsoleUrl, tokenFrom } from './api-client.js';

type Step = { send: string } | { expect: string };

/** The steps in the order given: a bare pattern is an --expect. */
function parse(argv: string[]): { url: string; steps: Step[]; timeout: number; tokenFile?: string; quiet: boolean } {
  let url: string | undefined;
  const steps: Step[] = [];
  let timeout = 10_000;
  let tokenFile: string | undefined;
  let quiet = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new UsageError(`ptybridge expect: ${a} expects a value`);
      return v;
    };
    if (a === '--send' || a === '-s') steps.push({ send: value() });
    else if (a === '--expect' || a === '-e') steps.push({ expect: value() });
    else if (a === '--timeout') {
      timeout = Number(value());
      if (!Number.isInteger(timeout) || timeout < 0 || timeout > 60_000)
        throw new UsageError('ptybridge expect: --timeout expects milliseconds from 0 to 60000');
    } else if (a === '--token-file') tokenFile = value();
    else if (a === '--quiet' || a === '-q') quiet = true;
    else if (a.startsWith('-') && a !== '-')
      throw new UsageError(`ptybridge expect: unknown option ${a}; expected --send, --expect, --timeout, --token-file, --quiet`);
    else if (url === undefined) url = a;
    else steps.push({ expect: a });
  }
  if (url === undefined || steps.length === 0)
    throw new UsageError("usage: ptybridge expect http://HOST:PORT/NAME 'login:' --send 'root\\n' --expect '# ' [--timeout MS] [--token-file FILE]");
  return { url, steps, timeout, quiet, ...(tokenFile !== undefined ? { tokenFile } : {}) };
}

export async function expectMain(argv: string[]): Promise<number> {
  const o = parse(argv);
  const { base, name } = parseConsoleUrl(o.url, true);
  const client = new ApiClient(base, await tokenFrom(o.tokenFile, 'ptybridge expect'));
  const path = `/api/consoles/${encodeURIComponent(name)}`;
  const start = await client.call(`${path}/output`);
  if (start.status !== 200) return fail(o.url, start.status, start.body.error);
  let since = start.body.next!;
  for (const step of o.steps) {
    if ('send' in step) {
      const r = await client.call(`${path}/send`, { text: step.send });
      if (r.status !== 200) return fail(o.url, r.status, r.body.error);
      continue;
    }
    const r = await client.call(`${path}/expect`, { regex: step.expect, since, timeout: o.timeout });
    if (r.status === 408) {
      process.stderr.write(`ptybridge expect: ${o.url}: no ${JSON.stringify(step.expect)} within ${o.timeout} ms; seen: ${JSON.stringify(r.body.seen)}\n`);
      return 1;
    }
    if (r.status !== 200) return fail(o.url, r.status, r.body.error);
    if (!o.quiet) process.stdout.write(`${String(r.body.before)}${String(r.body.match)}`);
    since = r.body.next!;
  }
  return 0;
}

function fail(url: string, status: number, why: string | undefined): number {
  process.stderr.write(`ptybridge expect: ${url}: ${status} ${why ?? ''}\n`);
  // 400 and 422: the pattern or the arguments are wrong, not the console.
  return status === 400 || status === 422 ? 2 : 1;
}

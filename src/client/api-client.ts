// A program's side of the console API (docs/CONSOLE-API.md): the address and token of a console, and one call at a time, for `ptybridge expect` and `ptybridge mcp`.
import { readFile } from 'node:fs/promises';
import { EndpointError, UsageError } from '../errors.js';
import { envToken, TOKEN_ENV } from '../env-token.js';

/** An API answer: its status and JSON body. */
export interface Answer {
  status: number;
  body: Record<string, unknown> & { error?: string; next?: number };
}

export class ApiClient {
  constructor(
    readonly base: string,
    private readonly token: string,
  ) {}

  async call(path: string, body?: unknown): Promise<Answer> {
    let res: Response;
    try {
      res = await fetch(`${this.base}${path}`, {
        method: body === undefined ? 'GET' : 'POST',
        headers: { Authorization: `Bearer ${this.token}`, ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    } catch (err) {
      throw new EndpointError(this.base, (err as { cause?: Error }).cause ?? err);
    }
    const text = await res.text();
    try {
      return { status: res.status, body: JSON.parse(text) as Answer['body'] };
    } catch {
      return { status: res.status, body: { error: text.trim() } };
    }
  }
}

/** The token from --token-file, else $PTYBRIDGE_TOKEN. */
export async function tokenFrom(file: string | undefined, what: string): Promise<string> {
  if (file !== undefined) {
    try {
      return (await readFile(file, 'utf8')).trim();
    } catch (err) {
      throw new UsageError(`${what}: --token-file ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  }
  // main() took it out of the environment at start (no child inherits it): ask for the value it kept.
  const t = envToken();
  if (!t) throw new UsageError(`${what}: needs a token: --token-file FILE or $${TOKEN_ENV}`);
  return t;
}

/** `http://HOST:PORT/NAME` → the server's base and the console's name (NAME may be empty for `mcp`). */
export function parseConsoleUrl(text: string, needName: boolean): { base: string; name: string } {
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    throw new UsageError(`${text}: expected a console address such as http://127.0.0.1:PORT/NAME`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new UsageError(`${text}: expected http:// or https://`);
  const name = decodeURIComponent(u.pathname.replace(/^\/+|\/+$/g, ''));
  if (needName && !name) throw new UsageError(`${text}: expected the console's name after the port: http://HOST:PORT/NAME`);
  return { base: `${u.protocol}//${u.host}`, name };
}

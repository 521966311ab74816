// Test helpers for the browser terminal: headless Chromium (no download) and the xterm.js buffer read in the page.
import type { Browser, Page } from 'playwright-core';
import { chromium } from 'playwright-core';
import { until } from './until.js';

export async function launch(extraArgs: string[] = []): Promise<Browser> {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      ...extraArgs,
    ],
  });
}

/** The lines of the terminal's active buffer (the alternate screen when an app uses it), as text. */
export function screenLines(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const t = (
      window as unknown as {
        ptybridge: { term: { buffer: { active: { length: number; getLine(i: number): { translateToString(trim: boolean): string } | undefined } } } };
      }
    ).ptybridge.term;
    const b = t.buffer.active;
    const lines: string[] = [];
    for (let i = 0; i < b.length; i++) lines.push(b.getLine(i)?.translateToString(true) ?? '');
    return lines;
  });
}

/** The terminal's whole buffer as text. */
export const screen = async (page: Page): Promise<string> => (await screenLines(page)).join('\n');

/** Polls the page's buffer until `pattern` matches (bounded by the test's timeout, not a timing assertion). */
export async function waitForScreen(page: Page, pattern: RegExp, timeout = 30_000): Promise<string> {
  return until(
    async () => {
      const text = await screen(page);
      return pattern.test(text) ? text : undefined;
    },
    { what: `the terminal to show ${pattern}`, timeout, step: 50, detail: async () => `it shows:\n${await screen(page)}` },
  );
}

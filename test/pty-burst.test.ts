// A pty read in bursts: what is queued in the tty comes out as one chunk (one frame, one write downstream), not one per 4 KiB n_tty buffer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pty } from '../src/endpoints/pty.js';
import type { Spec } from '../src/core/endpoint.js';
import { createLogger } from '../src/log.js';
import { sha256 } from './helpers/ptyb.js';
import { readBytes, specFor, startFakeVm } from './helpers/devices.js';

test("32 KiB already queued in a pty reach the reader in chunks larger than n_tty's 4 KiB, byte-exact", { timeout: 60_000 }, async () => {
  const tmp = mkdtempSync(join(tmpdir(), 'ptyb-burst-'));
  const vm = await startFakeVm();
  const abort = new AbortController();
  const spec = (await specFor(`pty:${vm.slave}`, pty)) as Spec<{ path: string }, never>;
  const link = await pty.open(spec as never, { log: createLogger('error'), signal: abort.signal });
  try {
    assert.equal((await readBytes(link.stream, 7)).toString(), 'login: ');
    // The whole payload sits in the tty (it fits its buffer) before the reader wakes for it.
    const payload = randomBytes(32 * 1024);
    writeFileSync(join(tmp, 'burst.bin'), payload);
    const chunks: Buffer[] = [];
    let got = 0;
    const all = new Promise<void>((resolve) => {
      link.stream.on('data', (c: Buffer) => {
        chunks.push(c);
        if ((got += c.length) >= payload.length) resolve();
      });
      link.stream.resume(); // readBytes left it paused
    });
    await vm.sendFile(join(tmp, 'burst.bin'));
    await all;
    assert.equal(sha256(Buffer.concat(chunks)), sha256(payload));
    const largest = Math.max(...chunks.map((c) => c.length));
    assert.ok(largest > 8192, `largest chunk ${largest} bytes; chunks: ${chunks.map((c) => c.length).join(' ')}`);
  } finally {
    abort.abort();
    link.stream.destroy();
    await vm.quit();
    rmSync(tmp, { recursive: true, force: true });
  }
});

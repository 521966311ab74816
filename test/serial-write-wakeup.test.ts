// A write to a serial port that found it full resumes when the port drains, even after a read began waiting meanwhile (serialport's poller forgot the write).
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readText, until } from './helpers/devices.js';
import { sha256, spawnTracked, startPtyb, writeAll } from './helpers/ptyb.js';

const dir = mkdtempSync(join(tmpdir(), 'ptyb-write-wakeup-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const SIZE = 1024 * 1024;

/**
 * The device: a pty pair whose slave is the "serial port" (a symlink at `link`). It reads
 * nothing until the port is full (its slave no longer writable: ptybridge's write met EAGAIN
 * and waits for "writable"); then it says "hi\n" once (ptybridge reads it, and its next read
 * waits for "readable"), and from then on only reads, printing the SHA-256 of `want` bytes.
 */
function device(link: string, want: number) {
  const script = `
import hashlib, os, select, sys, time, tty
m, s = os.openpty()
tty.setraw(s)
tty.setraw(m)
os.symlink(os.ttyname(s), ${JSON.stringify(link)})
print("ready", flush=True)
while select.select([], [s], [], 0)[1]:
    time.sleep(0.05)
print("full", flush=True)
time.sleep(0.5)
os.write(m, b"hi\\n")
sys.stdin.readline()  # the test saw "hi" come out of ptybridge: its read is waiting again
time.sleep(0.5)
got = bytearray()
while len(got) < ${want}:
    got += os.read(m, 65536)
print(hashlib.sha256(bytes(got[:${want}])).hexdigest(), len(got), flush=True)
`;
  return spawnTracked('/usr/bin/python3', ['-c', script]);
}

test('serial: a write held by a full port resumes when the device drains it, with a read waiting meanwhile (1 MiB, SHA-256 exact)', {
  timeout: 180_000,
}, async () => {
  const link = join(dir, 'port');
  const dev = device(link, SIZE);
  let pb: Awaited<ReturnType<typeof startPtyb>> | undefined;
  try {
    await readText(dev.stdout!, 'ready\n');
    await until(() => existsSync(link));
    pb = await startPtyb(['-v', `serial:${link}`, '-'], { listeners: 0 });
    const data = randomBytes(SIZE);
    void writeAll(pb.proc.stdin!, data, { keepOpen: true }).catch(() => {});
    await readText(dev.stdout!, 'full\n');
    await readText(pb.proc.stdout!, 'hi\n');
    dev.stdin!.write('go\n');
    // Before the fix the device waited here forever: ptybridge's write was never woken.
    const result = (await readText(dev.stdout!, '\n')).trim();
    assert.equal(result, `${sha256(data)} ${SIZE}`, `every byte, in order\n${pb.stderr()}`);
  } finally {
    dev.kill('SIGKILL');
    await pb?.stop();
  }
});

// Speed changes under a flood both ways lose nothing: the line changes without a flush (TCSADRAIN), over RFC 2217 (pyserial) and behind a virtual port.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { ChildProcess } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readBytes, readText, until } from './helpers/devices.js';
import { runTool, sha256, spawnTracked, startPtyb, writeAll } from './helpers/ptyb.js';

const dir = mkdtempSync(join(tmpdir(), 'ptyb-speed-flood-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Bytes each way; a flush at a speed change threw away up to a tty buffer (4-16 KiB) each way. */
const SIZE = 2 * 1024 * 1024;
/** The speeds the program goes through while both floods run, one change per SIZE / SPEEDS.length bytes written. */
const SPEEDS = [19200, 38400, 57600, 115200, 230400, 9600, 115200, 460800];

/** A far "serial port": a socat pty whose other end is socat's stdin/stdout (the device). */
async function farPort(name: string): Promise<{ path: string; device: ChildProcess }> {
  const path = join(dir, name);
  const device = spawnTracked('socat', [`pty,link=${path},raw,echo=0`, 'STDIO']);
  device.stdout!.pause();
  await until(() => existsSync(path));
  return { path, device };
}

/**
 * The program: pyserial opens `url` (rfc2217:// or a tty path), says "ready", then at once
 * writes the file `out` (changing speed through SPEEDS as it goes) and reads `want` bytes;
 * prints the SHA-256 of what it read and the speeds it set.
 */
function program(url: string, out: string, want: number): ChildProcess {
  const script = `
import hashlib, os, serial, sys, threading, traceback
s = serial.serial_for_url(${JSON.stringify(url)}, 9600, timeout=60)
print("ready", flush=True)
data = open(${JSON.stringify(out)}, "rb").read()
speeds = ${JSON.stringify(SPEEDS)}
step = len(data) // len(speeds)
def write():
    try:
        for i, baud in enumerate(speeds):
            s.write(data[i * step:(i + 1) * step if i + 1 < len(speeds) else len(data)])
            s.baudrate = baud
    except Exception:
        traceback.print_exc()
        sys.stderr.flush()
        os._exit(1)  # the test sees the exit at once, not a device that waits for bytes that never come
got = bytearray()
def read():
    while len(got) < ${want}:
        chunk = s.read(min(65536, ${want} - len(got)))
        if not chunk:
            break
        got.extend(chunk)
threads = [threading.Thread(target=write), threading.Thread(target=read)]
[t.start() for t in threads]
[t.join() for t in threads]
print(hashlib.sha256(got).hexdigest(), len(got), s.baudrate, flush=True)
`;
  return spawnTracked('/usr/bin/python3', ['-c', script]);
}

async function floodBothWays(url: string, device: ChildProcess, far: string): Promise<void> {
  const toDevice = randomBytes(SIZE);
  const toProgram = randomBytes(SIZE);
  const out = join(dir, 'to-device.bin');
  writeFileSync(out, toDevice);
  const py = program(url, out, SIZE);
  let err = '';
  py.stderr!.setEncoding('utf8').on('data', (t: string) => (err += t));
  try {
    // pyserial empties the input buffer as it opens: the device starts once the program has the port.
    await readText(py.stdout!, 'ready\n');
    // A program that dies (pyserial raises) fails the test at once with its stderr, rather than leave the device waiting.
    // Exit 0 is the program done, its last bytes possibly still on their way to the device (seen at low load): not a failure.
    const died = new Promise<never>((_, reject) =>
      py.once('exit', (code) => code !== 0 && reject(new Error(`the program exited (${code}) before the device had its bytes:\n${err}`))),
    );
    const [fromProgram] = await Promise.race([Promise.all([readBytes(device.stdout!, SIZE), writeAll(device.stdin!, toProgram, { keepOpen: true })]), died]);
    assert.equal(sha256(fromProgram), sha256(toDevice), 'program → device: every byte, in order, across the speed changes');
    const result = (await readText(py.stdout!, '\n')).trim();
    assert.equal(result, `${sha256(toProgram)} ${SIZE} ${SPEEDS.at(-1)}`, `device → program: every byte, in order\n${err}`);
    // The port ends at the last speed (a virtual port hands a change on within a second).
    const stty = async () => (await runTool('stty', ['-F', far])).stdout.toString();
    await until(async () => new RegExp(`speed ${SPEEDS.at(-1)} baud`).test(await stty()), {
      what: `the port at ${SPEEDS.at(-1)} baud`,
      timeout: 30_000,
      step: 50,
      detail: async () => `stty -F ${far}: ${await stty()}`,
    });
  } finally {
    py.kill('SIGKILL');
  }
}

test('pyserial rfc2217:// → serial: behind tcp-listen:?telnet: 2 MiB each way across 8 speed changes, SHA-256 exact', { timeout: 180_000 }, async () => {
  const { path: far, device } = await farPort('far-rfc2217');
  const server = await startPtyb(['-v', `serial:${far}?replay=0`, 'tcp-listen:0?telnet']);
  try {
    // ?timeout: pyserial gives the server 3 s to answer a line change, but the answer comes once
    // the bytes written before the change have reached the device (TCSADRAIN), and pyserial
    // reads the answer only after parsing, byte by byte in Python, the flood queued before it:
    // on a loaded machine that took longer than 3 s (SerialException, seen with three copies running).
    await floodBothWays(`rfc2217://127.0.0.1:${server.listening[0]!.port}?timeout=60`, device, far);
  } finally {
    await server.stop();
    device.kill();
  }
});

test('a virtual port (pty:?link=) in front of a local serial:: 2 MiB each way across 8 speed changes, SHA-256 exact', { timeout: 180_000 }, async () => {
  const { path: far, device } = await farPort('far-local');
  const link = join(dir, 'vport');
  const near = await startPtyb(['-v', `pty:?link=${link}`, `serial:${far}`], { listeners: 0 });
  try {
    await until(() => existsSync(link));
    // The link is there once the pty is; the far port opens after it, and its open discards
    // what the device said before (serialport flushes at open, as pyserial does): a device
    // that started at once lost its first 13 824 bytes (what a pty holds unread) about 1 run
    // in 4 on a loaded machine. A real device talks to an open port: start it once joined.
    await near.logged(/connected pty \S+ <-> serial /, 'the far port open and joined');
    await floodBothWays(link, device, far);
  } finally {
    await near.stop();
    device.kill();
  }
});

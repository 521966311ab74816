// The arm64 single binary (dist/ptybridge-linux-arm64), copied alone into an empty directory and run under qemu-user emulation with an empty environment.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { acceptOne, connectTcp, readUntil, ROOT, runTool, spawnTracked, startPtyb, transferBothWays } from './helpers/ptyb.js';
import { until } from './helpers/until.js';

/** What `npm test`'s pretest builds (npm run build), next to the x64 file. */
const BUILT = join(ROOT, 'dist/ptybridge-linux-arm64');
/** Debian's qemu-user-static; `-L /` finds the arm64 loader and libraries of libc6:arm64 and libstdc++6:arm64 (.ci/run). */
const QEMU = '/usr/bin/qemu-aarch64-static';

let top = '';
let runDir = '';
let env: NodeJS.ProcessEnv = {};
const cmd = () => [QEMU, '-L', '/', join(runDir, 'ptybridge-linux-arm64')];

before(() => {
  assert.ok(existsSync(BUILT), `${BUILT} is missing: npm test builds it first (npm run build)`);
  assert.ok(existsSync(QEMU), `${QEMU} is missing: .ci/run installs qemu-user-static`);
  assert.ok(existsSync('/lib/ld-linux-aarch64.so.1'), 'the arm64 loader is missing: .ci/run installs libc6:arm64 and libstdc++6:arm64');
  top = mkdtempSync(join(tmpdir(), 'ptyb-arm64-'));
  runDir = join(top, 'run');
  mkdirSync(runDir);
  copyFileSync(BUILT, join(runDir, 'ptybridge-linux-arm64'));
  chmodSync(join(runDir, 'ptybridge-linux-arm64'), 0o755);
  // Nothing inherited: no PATH to a node, no NODE_OPTIONS; only where the addons are cached.
  env = { XDG_CACHE_HOME: join(top, 'cache') };
});

after(() => {
  if (top) rmSync(top, { recursive: true, force: true });
});

async function runBin(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const [file, ...pre] = cmd();
  const r = await runTool(file!, [...pre, ...args], { env, cwd: runDir });
  return { ...r, stdout: r.stdout.toString() };
}

const startBin = (args: string[]) => startPtyb(args, { cmd: cmd(), env, cwd: runDir });

test('arm64: -V -v names Node 24 and loads its three native addons from its own assets', async () => {
  const r = await runBin(['-V', '-v']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^ptybridge \S+ \(node v24\.\d+\.\d+\)\n/);
  assert.match(r.stdout, /native addons \(SEA assets, cached in .*\):\n {2}node-pty: ok\n {2}serialport: ok\n {2}malloc-trim: ok\n$/);
  assert.deepEqual(readdirSync(runDir), ['ptybridge-linux-arm64']);
});

test('arm64: tcp-listen ↔ tcp, 1 MiB both ways, byte-exact', async () => {
  const upstream = await acceptOne();
  const upstreamSocket = upstream.first;
  const pb = await startBin(['tcp-listen:0', `tcp:127.0.0.1:${upstream.port}`]);
  try {
    const client = await connectTcp(pb.listening[0]!.port);
    await transferBothWays(client, await upstreamSocket, 1024 * 1024);
  } finally {
    await pb.stop();
    await upstream.close();
  }
});

test('arm64: exec:/bin/sh on its own node-pty answers a command', async () => {
  const pb = await startBin(['tcp-listen:0', 'exec:/bin/sh']);
  try {
    const s = await connectTcp(pb.listening[0]!.port);
    const out = readUntil(s, 'answer=42');
    s.write('echo answer=$((6*7))\n');
    await out;
    s.destroy();
  } finally {
    await pb.stop();
  }
});

test('arm64: serial: on a pty (socat), through its own serialport, both ways', async () => {
  const link = join(top, 'ttyS-arm');
  const socat = spawnTracked('socat', [`pty,link=${link},raw,echo=0`, 'STDIO'], { env: process.env });
  try {
    await until(() => existsSync(link), { what: `socat's pty at ${link}`, timeout: 30_000 });
    const pb = await startBin([`serial:${link}?baud=115200`, 'tcp-listen:0']);
    try {
      const s = await connectTcp(pb.listening[0]!.port);
      const toDevice = randomBytes(4096).toString('hex');
      const arrived = readUntil(socat.stdout!, toDevice);
      s.write(toDevice);
      await arrived;
      const fromDevice = randomBytes(4096).toString('hex');
      const back = readUntil(s, fromDevice);
      socat.stdin!.write(fromDevice);
      await back;
      s.destroy();
    } finally {
      await pb.stop();
    }
  } finally {
    socat.kill();
  }
});

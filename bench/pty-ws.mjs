// Benchmark: a VM's serial pty in a browser — pty → ws through ptybridge vs the socat + websockify chain, against the raw pty rate.
// Usage: npm run build:js && node bench/pty-ws.mjs [MiB per run, default 200] [runs, default 5] [warm-up MiB, default 16]
// A python writer floods the master of a raw pty (bench/pty-writer.py flood); the reader is
//   raw-dd:    dd reading the slave into /dev/null (a plain C read loop: the limit, what the pty
//              itself delivers on this machine at this moment)
//   raw-py:    a python os.read loop on the slave (another plain reader, for scale; PTYB_PTY_KINDS)
//   ptybridge: ptybridge pty:/dev/pts/N ws-listen:0 → a raw-socket ws client sink (bench/ws-client.mjs)
//   chain:     socat /dev/pts/N,raw,echo=0 TCP-LISTEN:P + websockify W 127.0.0.1:P → the same sink
//   dd-pipe:   dd reading the slave into a pipe that a Node process drains (PTYB_PTY_KINDS): the
//              limit with a third busy process on the 2 cores, as the rows with a ws sink have
// The limit is measured in every round: dd runs before and after the others (whose order
// rotates), and the round's limit is the better of the two. Every ratio is taken within its
// round, then the median over rounds. A forwarder above the limit means the limit was
// measured wrong: the script says so, and says when the limit moved between rounds.
// PTYB_PTY_OPTS='&replay=0' is appended to the pty: address (what the screen model costs).
// Every run stops by itself (RUN_LIMIT_MS). PTYB_BASE=older/ptybridge.mjs adds
// `ptybridge-base` to PTYB_PTY_KINDS: before and after in the same run.
import { spawn as spawnChild } from 'node:child_process';
import { waitListening } from './lib/forwarder.mjs';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { callsPerMB, freePort, treeCalls, treeCpu } from './proc.mjs';
import { connectWs, frameCounter } from './ws-client.mjs';

const MIB = Number(process.argv[2] ?? 200);
const RUNS = Number(process.argv[3] ?? 5);
const BYTES = MIB * 1024 * 1024;
// Moved through each reader before time and CPU are sampled: steady state, not start-up.
const WARM = Number(process.argv[4] ?? 16) * 1024 * 1024;
const PTYB = fileURLToPath(new URL('../dist/ptybridge.mjs', import.meta.url));
const WRITER = fileURLToPath(new URL('./pty-writer.py', import.meta.url));
const TOKEN = 'bench';
// The hub drops a peer that falls peer-queue behind (default 1 MiB): at 200 MB/s that is 5 ms,
// which a sink descheduled by other users' load loses; the chain has no such limit (socat
// stops reading the pty). PTYB_PEER_QUEUE=1M measures the default; dropped runs are rerun and counted.
const PEER_QUEUE = process.env.PTYB_PEER_QUEUE ?? '8M';

/** Every child this script starts; whatever is still running when it exits (a failed run) is killed. */
const children = new Set();
const spawn = (...args) => {
  const p = spawnChild(...args);
  children.add(p);
  p.once('exit', () => children.delete(p));
  return p;
};
process.once('exit', () => children.forEach((p) => p.kill('SIGKILL')));
// ptybridge runs with the flags of the bundle's #! line (--single-threaded-gc), as the installed command does.
// PTYB_NODE_ARGS='--perf-basic-prof …' replaces them (to profile it).
const SHEBANG =
  process.env.PTYB_NODE_ARGS !== undefined
    ? process.env.PTYB_NODE_ARGS.split(' ').filter(Boolean)
    : readFileSync(PTYB, 'utf8')
        .split('\n', 1)[0]
        .split(' ')
        .filter((a) => a.startsWith('--'));
const RAW_READER = `
import os, sys
fd = os.open(sys.argv[1], os.O_RDONLY | os.O_NOCTTY)
warm, total = int(sys.argv[2]), int(sys.argv[3])
got = 0
told = False
while got < warm + total:
    got += len(os.read(fd, 65536))
    if not told and got >= warm:
        told = True
        print("warm", flush=True)
print("done", flush=True)
`;

const lineReader = (stream) => {
  const lines = [];
  const waiters = [];
  createInterface({ input: stream }).on('line', (l) => {
    lines.push(l);
    waiters.splice(0).forEach((w) => w());
  });
  return async () => {
    while (!lines.length) await new Promise((r) => waiters.push(r));
    return lines.shift();
  };
};

const exited = (p) => (p.exitCode !== null || p.signalCode !== null ? Promise.resolve() : new Promise((r) => p.once('exit', r)));

/** A raw-socket ws client that counts bytes and frames: `warm` resolves after WARM, `done` after WARM + BYTES. */
async function wsSink(url) {
  const { socket, rest } = await connectWs(url);
  let got = 0;
  let frames = 0;
  let warmed, finished, failed;
  const warm = new Promise((r) => (warmed = r));
  const done = new Promise((r, j) => {
    finished = r;
    failed = j;
  });
  done.catch(() => {});
  const count = frameCounter(
    (n) => {
      got += n;
      if (got >= WARM) warmed();
      if (got >= WARM + BYTES) finished(performance.now());
    },
    () => {
      if (got >= WARM) frames++;
    },
  );
  socket.on('data', count);
  socket.once('close', () => failed(new Error(`ws closed after ${got} bytes`)));
  socket.on('error', () => {});
  if (rest.length) count(rest);
  socket.resume();
  return { ws: { terminate: () => socket.destroy() }, warm, done, frames: () => frames };
}

/** dd's arguments to read exactly `bytes` of `slave` in 1 MiB blocks (fullblock: it exits the moment it has them all) into `of`. */
const ddArgs = (slave, bytes, of) => [`if=${slave}`, `of=${of}`, 'bs=1M', 'iflag=fullblock', `count=${bytes / 1048576}`, 'status=none'];

/** Starts the reader of `slave` for one kind; returns what to sample and how to know it is done. */
async function startReader(kind, slave) {
  if (kind === 'raw-py') {
    const p = spawn('/usr/bin/python3', ['-c', RAW_READER, slave, String(WARM), String(BYTES)], { stdio: ['ignore', 'pipe', 'inherit'] });
    const next = lineReader(p.stdout);
    const warm = next();
    return { pids: [p.pid], warm, done: warm.then(next).then(() => performance.now()), stop: () => exited(p) };
  }
  if (kind === 'raw-dd') {
    // One dd for the warm-up, one for the measured bytes: each exits after exactly its count
    // of 1 MiB blocks (fullblock), which is the moment it has read them all. The measured one
    // runs under bash, whose `times` prints dd's CPU (user, system) when it is done.
    const args = (bytes) => ddArgs(slave, bytes, '/dev/null');
    const first = spawn('dd', args(WARM), { stdio: 'ignore' });
    let second;
    let out = '';
    const warm = exited(first).then(() => {
      second = spawn('bash', ['-c', 'dd "$@"; times', 'dd', ...args(BYTES)], { stdio: ['ignore', 'pipe', 'ignore'] });
      second.stdout.on('data', (c) => (out += c));
    });
    const cpu = () => {
      const secs = (t) => {
        const m = /(\d+)m([\d.]+)s/.exec(t);
        return m ? Number(m[1]) * 60 + Number(m[2]) : NaN;
      };
      const [user, sys] = (out.trim().split('\n')[1] ?? '').split(' ');
      return secs(user) + secs(sys);
    };
    const done = warm.then(() => new Promise((r) => second.once('close', r))).then(() => performance.now());
    return { pids: [], cpu, warm, done, stop: async () => {} };
  }
  if (kind === 'dd-pipe') {
    // The limit once a third process is busy too, as the ws sink is in the ptybridge and chain
    // rows: dd reads the slave as raw-dd does, but into a pipe that a Node process drains (and
    // drops), so the writer, the reader and a Node consumer share the 2 cores.
    const first = spawn('dd', ddArgs(slave, WARM, '/dev/null'), { stdio: 'ignore' });
    let second;
    const warm = exited(first).then(() => {
      second = spawn('bash', ['-c', 'dd "$@" | "$NODE" -e "process.stdin.resume()"', 'dd', ...ddArgs(slave, BYTES, '/dev/stdout')], {
        stdio: 'ignore',
        env: { ...process.env, NODE: process.execPath },
      });
    });
    const done = warm.then(() => new Promise((r) => second.once('close', r))).then(() => performance.now());
    return { pids: [], cpu: () => NaN, warm, done, stop: async () => {} };
  }
  if (kind === 'ptybridge' || kind === 'ptybridge-base') {
    const bin = kind === 'ptybridge' ? PTYB : process.env.PTYB_BASE;
    // A token, as a ws-listen in front of a pty will need one; the sink presents it.
    const p = spawn(
      process.execPath,
      [...SHEBANG, bin, `pty:${slave}?peer-queue=${PEER_QUEUE}${process.env.PTYB_PTY_OPTS ?? ''}`, `ws-listen:0?ping=0&web=off&token=${TOKEN}`],
      {
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    let err = '';
    const port = await new Promise((r, j) => {
      p.stderr.on('data', (c) => {
        err += c;
        const m = /listening on ws \S+:(\d+)/.exec(err);
        if (m) r(Number(m[1]));
      });
      p.once('exit', (code) => j(new Error(`ptybridge exited ${code}: ${err}`)));
    });
    const sink = await wsSink(`ws://127.0.0.1:${port}/?token=${TOKEN}`);
    return {
      pids: [p.pid],
      ...sink,
      stop: async () => {
        sink.ws.terminate();
        p.kill('SIGTERM');
        await exited(p);
        return /dropped/.test(err);
      },
    };
  }
  const tcpPort = await freePort();
  const socat2 = spawn('socat', [`${slave},raw,echo=0`, `TCP-LISTEN:${tcpPort},bind=127.0.0.1,reuseaddr`], { stdio: 'ignore' });
  const wsPort = await freePort();
  const wsf = spawn('/usr/bin/python3', ['/usr/bin/websockify', `127.0.0.1:${wsPort}`, `127.0.0.1:${tcpPort}`], { stdio: 'ignore' });
  await Promise.all([waitListening(tcpPort), waitListening(wsPort)]);
  const sink = await wsSink(`ws://127.0.0.1:${wsPort}/`);
  return {
    pids: [socat2.pid, wsf.pid],
    ...sink,
    stop: async () => {
      sink.ws.terminate();
      socat2.kill('SIGTERM');
      wsf.kill('SIGTERM');
      await Promise.all([exited(socat2), exited(wsf)]);
    },
  };
}

/** Every run stops by itself: one that has not finished after this long fails the bench. */
const RUN_LIMIT_MS = 60_000 + (BYTES + WARM) / 2e3;

async function run(kind) {
  const writer = spawn('/usr/bin/python3', [WRITER, 'flood', String(WARM), String(BYTES)], { stdio: ['pipe', 'pipe', 'inherit'] });
  let reader;
  let timer;
  const limit = new Promise((_, j) => {
    timer = setTimeout(() => j(new Error(`${kind}: no result after ${RUN_LIMIT_MS} ms`)), RUN_LIMIT_MS);
  });
  try {
    return await Promise.race([
      limit,
      (async () => {
        const next = lineReader(writer.stdout);
        const slave = await next();
        reader = await startReader(kind, slave);
        writer.stdin.write('start\n'); // the warm-up bytes
        await reader.warm;
        const calls0 = reader.pids.map(treeCalls);
        const cpu0 = reader.pids.reduce((a, p) => a + treeCpu(p), 0);
        const t0 = performance.now();
        writer.stdin.write('go\n');
        const t1 = await reader.done;
        const cpu = reader.cpu ? reader.cpu() : reader.pids.reduce((a, p) => a + treeCpu(p), 0) - cpu0;
        const mb = BYTES / 1e6;
        const calls = reader.pids.map((p, i) => callsPerMB(calls0[i], treeCalls(p), mb));
        const sum = (k) => calls.reduce((a, c) => a + c[k], 0);
        await next(); // done
        const framesPerMB = reader.frames ? reader.frames() / mb : NaN;
        // A hub never waits for a peer: a sink that falls 1 MiB behind is dropped, and the run
        // ends early with its bytes short (`done` fails); counted, not hidden.
        reader.done.catch(() => {});
        return {
          mbps: mb / ((t1 - t0) / 1000),
          cpuPerMB: (cpu * 1000) / mb,
          readsPerMB: calls[0]?.reads ?? NaN,
          sleepsPerMB: calls.length ? sum('sleeps') : NaN,
          framesPerMB,
        };
      })(),
    ]);
  } finally {
    clearTimeout(timer);
    writer.stdin.end();
    writer.kill('SIGTERM');
    await exited(writer);
    if (await reader?.stop()) console.error(`${kind}: the hub dropped the ws sink (it fell 1 MiB behind)`);
  }
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const KINDS = (process.env.PTYB_PTY_KINDS ?? 'raw-dd,ptybridge,chain').split(',');
if (!KINDS.includes('raw-dd')) throw new Error('PTYB_PTY_KINDS must include raw-dd: every ratio is taken against it');
const res = Object.fromEntries(KINDS.map((k) => [k, []]));
const failures = Object.fromEntries(KINDS.map((k) => [k, 0]));
/** One run of `kind`; a run that failed (the hub dropped a sink that fell behind) is counted and run again. */
async function measure(i, kind) {
  for (let attempt = 1; ; attempt++) {
    try {
      const r = await run(kind);
      console.error(
        `round ${i + 1} ${kind}: ${r.mbps.toFixed(1)} MB/s, ${r.cpuPerMB.toFixed(2)} ms CPU/MB, per MB: ${r.readsPerMB.toFixed(0)} reads, ${r.sleepsPerMB.toFixed(0)} sleeps, ${r.framesPerMB.toFixed(0)} frames`,
      );
      return r;
    } catch (err) {
      failures[kind]++;
      console.error(`round ${i + 1} ${kind}: failed (${err.message.split('\n')[0]})`);
      if (attempt === 3) throw err;
    }
  }
}

const others = KINDS.filter((k) => k !== 'raw-dd');
/** Both dd runs of each round, before and after the others. */
const ddRuns = [];
for (let i = 0; i < RUNS; i++) {
  // The limit brackets the round: dd before and after the others, and the round's limit is the
  // better of the two (a dd that the load starved once would otherwise put a forwarder "above
  // the limit"). The others are interleaved between, in an order that rotates.
  const before = await measure(i, 'raw-dd');
  for (let j = 0; j < others.length; j++) {
    const kind = others[(i + j) % others.length];
    res[kind].push(await measure(i, kind));
  }
  const after = await measure(i, 'raw-dd');
  ddRuns.push([before.mbps, after.mbps]);
  res['raw-dd'].push(before.mbps >= after.mbps ? before : after);
}
const m = (kind, k) => median(res[kind].map((r) => r[k]));
/** Per-round ratio of two readers (same round, same load), then the median over rounds. */
const ratio = (a, b, k = 'mbps') => median(res[a].map((r, i) => r[k] / res[b][i][k]));
const limit = res['raw-dd'].map((r) => r.mbps);
const label = {
  'ptybridge-base': `ptybridge before (${process.env.PTYB_BASE})`,
  'raw-dd': 'raw pty: `dd` (the limit: better of the two dd runs bracketing each round)',
  'raw-py': 'raw pty: python `os.read` loop',
  ptybridge: '`ptybridge pty:/dev/pts/N ws-listen:0`',
  chain: '`socat … TCP-LISTEN` + `websockify`',
  'dd-pipe': 'raw pty: `dd` into a pipe a Node process drains (the limit with a third busy process)',
};
console.log(
  `| reader | MB/s (median of ${RUNS}) | × limit (same round, median) | CPU ms/MB | pty reads per MB | sleeps per MB | ws frames per MB | rounds MB/s |`,
);
console.log('|---|---|---|---|---|---|---|---|');
for (const k of KINDS) {
  const own = k === 'raw-dd';
  console.log(
    `| ${label[k]} | ${m(k, 'mbps').toFixed(1)} | ${ratio(k, 'raw-dd').toFixed(2)} | ${m(k, 'cpuPerMB').toFixed(2)} | ${own ? '—' : m(k, 'readsPerMB').toFixed(0)} | ${own ? '—' : m(k, 'sleepsPerMB').toFixed(0)} | ${own ? '—' : m(k, 'framesPerMB').toFixed(0)} | ${res[k].map((r) => r.mbps.toFixed(0)).join(', ')} |`,
  );
}
console.log('');
if (res.ptybridge && res.chain) {
  console.log(
    `ptybridge / limit: **${ratio('ptybridge', 'raw-dd').toFixed(2)}×**; ptybridge / chain: **${ratio('ptybridge', 'chain').toFixed(2)}×**; CPU per MB ptybridge / chain: **${ratio('ptybridge', 'chain', 'cpuPerMB').toFixed(2)}×** (per-round ratios, median of ${RUNS})`,
  );
}
if (res.ptybridge && res['ptybridge-base']) {
  console.log(
    `ptybridge / before: **${ratio('ptybridge', 'ptybridge-base').toFixed(2)}×** throughput, ${ratio('ptybridge', 'ptybridge-base', 'cpuPerMB').toFixed(2)}× CPU per MB (per-round ratios, median of ${RUNS})`,
  );
}
for (const k of KINDS)
  if (failures[k]) console.log(`${k}: ${failures[k]} run(s) failed and were run again (the hub dropped a ws sink that fell 1 MiB behind).`);
const spread = Math.max(...limit) / Math.min(...limit);
console.log(
  `The limit (dd before / after, per round): ${ddRuns.map(([a, b]) => `${a.toFixed(0)}/${b.toFixed(0)}`).join(', ')} MB/s; the better of each pair: ${limit.map((x) => x.toFixed(0)).join(', ')}${spread > 1.25 ? ` — **it moved ${((spread - 1) * 100).toFixed(0)} % between rounds** (load from other users of the machine); compare within a round` : ' (steady within 25 %)'}.`,
);
for (const k of KINDS) {
  if (k === 'raw-dd') continue;
  const above = res[k].map((r, i) => [i + 1, r.mbps / res['raw-dd'][i].mbps]).filter(([, x]) => x > 1.0);
  if (above.length)
    console.log(
      `**Measurement bug**: ${k} above the limit in round ${above.map(([i, x]) => `${i} (${x.toFixed(2)}×)`).join(', ')}: the limit was measured low there.`,
    );
}

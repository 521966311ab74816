// ws-listen under faults: slowloris upgrades, churn, integrity with pauses, and hostile control frames.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import fc from 'fast-check';
import { fuzzRuns } from './helpers/fuzz-runs.js';
import WebSocket, { createWebSocketStream } from 'ws';
import { acceptOne, readAll, spawnTracked, startPtyb, tcpServer, type Running } from './helpers/ptyb.js';
import { openWs, withToken, wsUrl } from './helpers/ws.js';
import { MiB, Payload, fdCount, fdTargets, rssBytes, withConcurrency, writeRandomly } from './helpers/load.js';
import { until } from './helpers/until.js';

const CHURN = Number(process.env.PTYB_WS_CHURN_CYCLES ?? 3000);
/** WebSocket framing costs more CPU than raw TCP: a quarter of the TCP integrity size. */
const BYTES = Math.floor(Number(process.env.PTYB_INTEGRITY_BYTES ?? 256 * MiB) / 4);

async function echoOnce(url: string): Promise<void> {
  const ws = await openWs(url, { protocols: ['binary'] });
  ws.send(Buffer.from('ping?'));
  const [reply] = await once(ws, 'message');
  assert.equal(String(reply), 'ping?');
  ws.close();
  await once(ws, 'close');
}

test('slowloris: an upgrade whose headers trickle forever is cut after ?header-timeout; others are served meanwhile', async () => {
  const up = await tcpServer((s) => s.pipe(s));
  const pb = await startPtyb([withToken('ws-listen:0?header-timeout=2s'), `tcp:127.0.0.1:${up.port}`]);
  try {
    const port = pb.listening[0]!.port;
    const slow = net.connect({ host: '127.0.0.1', port });
    slow.on('error', () => {});
    await once(slow, 'connect');
    let cut = false;
    slow.once('close', () => (cut = true));
    slow.resume();
    slow.write('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n');
    // One header line every 100 ms, never the blank line that ends them.
    for (let i = 0; !cut && i < 600; i++) {
      if (i % 10 === 0) await echoOnce(wsUrl(port));
      slow.write(`X-Slow-${i}: ${'a'.repeat(10)}\r\n`);
      await sleep(100); // the point: a peer that trickles, one header line every 100 ms
    }
    assert.ok(cut, 'the trickling peer was cut off');
    await echoOnce(wsUrl(port));
  } finally {
    await pb.stop();
    await up.close();
  }
});

test(`churn: ${CHURN} WebSocket connect/disconnect cycles on ws-listen; no fd or memory leak`, async () => {
  const up = await tcpServer((s) => {
    s.on('error', () => {});
    s.pipe(s);
  });
  const pb = await startPtyb([withToken('ws-listen:0'), `tcp:127.0.0.1:${up.port}`]);
  try {
    const url = wsUrl(pb.listening[0]!.port);
    const pid = pb.proc.pid!;
    const cycle = async (i: number) => {
      const ws = new WebSocket(url, ['binary']);
      ws.on('error', () => {});
      await once(ws, 'open');
      if (i % 3 === 0) {
        ws.send(Buffer.from(`hello ${i}`));
        await once(ws, 'message');
        ws.close();
      } else if (i % 3 === 1)
        ws.terminate(); // no close frame: the TCP connection just goes
      else {
        ws.send(Buffer.alloc(8192, 1));
        ws.close(1001);
      }
      if (ws.readyState !== WebSocket.CLOSED) await once(ws, 'close');
    };
    await withConcurrency(200, 50, cycle);
    await until(() => fdCount(pid) <= 30, {
      timeout: 20_000,
      what: "the warm-up's connections to close (at most 30 fds)",
      detail: () => fdTargets(pid).join(' '),
    });
    const fdBefore = fdCount(pid);
    const rssBefore = rssBytes(pid);
    await withConcurrency(CHURN, 50, cycle);
    await until(() => fdCount(pid) <= fdBefore + 2, {
      timeout: 20_000,
      what: `the fds to settle at ${fdBefore} + 2`,
      detail: () => `fds ${fdBefore} → ${fdCount(pid)}: ${fdTargets(pid).join(' ')}`,
    });
    const rssAfter = rssBytes(pid);
    assert.ok(rssAfter < rssBefore + 64 * MiB, `RSS ${(rssBefore / MiB).toFixed(1)} → ${(rssAfter / MiB).toFixed(1)} MiB`);
    process.stderr.write(
      `# ws-listen churn: ${CHURN} cycles, fds ${fdBefore} → ${fdCount(pid)}, RSS ${(rssBefore / MiB).toFixed(1)} → ${(rssAfter / MiB).toFixed(1)} MiB\n`,
    );
    await echoOnce(url);
  } finally {
    await pb.stop();
    await up.close();
  }
});

test(`integrity: ${BYTES / MiB} MiB each way through ws-listen ↔ tcp (binary frames), random chunks and pauses`, async () => {
  const up = await acceptOne();
  const upstreamSocket = up.first;
  const pb = await startPtyb([withToken('ws-listen:0'), `tcp:127.0.0.1:${up.port}`]);
  try {
    const ws = await openWs(wsUrl(pb.listening[0]!.port), { protocols: ['binary'] });
    const wsStream = createWebSocketStream(ws, { allowHalfOpen: true });
    const tcp = await upstreamSocket;
    const [sentWs, sentTcp, atTcp, atWs] = await Promise.all([
      writeRandomly(wsStream, new Payload(), BYTES, { keepOpen: true }),
      // A WebSocket has no half-close: the tcp side ending would close it, so both stay open until both are read.
      writeRandomly(tcp, new Payload(), BYTES, { keepOpen: true }),
      readRandomlyUntil(tcp, BYTES),
      readRandomlyUntil(wsStream, BYTES),
    ]);
    assert.equal(atTcp.bytes, BYTES);
    assert.equal(atTcp.sha256, sentWs, 'ws→tcp bytes and order');
    assert.equal(atWs.bytes, BYTES);
    assert.equal(atWs.sha256, sentTcp, 'tcp→ws bytes and order');
    ws.close();
    tcp.end();
  } finally {
    await pb.stop();
    await up.close();
  }
});

/** readRandomly, but done after `bytes` (a WebSocket's end is its close, which the test triggers after). */
async function readRandomlyUntil(stream: import('node:stream').Duplex, bytes: number) {
  const { createHash } = await import('node:crypto');
  const hash = createHash('sha256');
  let got = 0;
  let n = 0;
  await new Promise<void>((resolve, reject) => {
    stream.on('data', (c: Buffer) => {
      hash.update(c);
      got += c.length;
      if (++n % 64 === 0) {
        stream.pause();
        setTimeout(() => stream.resume(), Math.floor(Math.random() * 5));
      }
      if (got >= bytes) resolve();
    });
    stream.once('error', reject);
  });
  return { bytes: got, sha256: hash.digest('hex') };
}

/** Any JSON control, any JSON, any text, any bytes. */
const controlFrame = fc.oneof(
  fc
    .record(
      { type: fc.constantFrom('resize', 'break', 'line', 'modem', 'x', ''), cols: fc.anything(), rows: fc.anything(), ms: fc.anything(), baud: fc.anything() },
      { requiredKeys: ['type'] },
    )
    .map((o) => JSON.stringify(o)),
  fc.json(),
  fc.string({ unit: 'binary', maxLength: 200 }),
  fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)),
);

/** Sends fast-check frames over plain/binary/base64 sockets; checks close codes, no crash, no stack. */
async function fuzzControl(pb: Running, url: string): Promise<void> {
  let ws: WebSocket | undefined;
  const codes = new Map<number, number>();
  await fc.assert(
    fc.asyncProperty(controlFrame, fc.constantFrom<string[]>([], ['binary'], ['base64']), async (frame, protocols) => {
      if (!ws || ws.readyState !== WebSocket.OPEN || ws.protocol !== (protocols[0] ?? '')) {
        ws?.terminate();
        ws = await openWs(url, { protocols });
        ws.on('close', (code) => codes.set(code, (codes.get(code) ?? 0) + 1));
      }
      ws.send(frame);
      await sleep(1); // pacing, not waiting: the server sees frames one by one, as from a real peer
    }),
    { numRuns: fuzzRuns(1 / 10) },
  );
  ws?.terminate();
  assert.equal(pb.proc.exitCode, null, 'still running');
  assert.doesNotMatch(pb.stderr(), /internal error|TypeError|RangeError|at .*\.m?js:\d+/, 'no crash, no stack');
  for (const code of codes.keys()) assert.ok([1000, 1003, 1005, 1006, 1007, 1008, 1009].includes(code), `close code ${code}`);
}

test('control channel: any JSON or garbage frame gets a close code or is ignored; the server never crashes and the next client works', async () => {
  const up = await tcpServer((s) => {
    s.on('error', () => {});
    s.pipe(s);
  });
  const pb = await startPtyb([withToken('ws-listen:0?max-frame=64k'), `tcp:127.0.0.1:${up.port}`]);
  try {
    const url = wsUrl(pb.listening[0]!.port);
    await fuzzControl(pb, url);
    await echoOnce(url);
  } finally {
    await pb.stop();
    await up.close();
  }
});

test('control channel against a device hub: resizes, breaks and garbage reach a shared pty: (a new pair) without crashing it; the device still serves', async () => {
  const pb = await startPtyb(['-v', 'pty:?replay=0', withToken('ws-listen:0?max-frame=64k')]);
  try {
    const url = wsUrl(pb.listening[0]!.port);
    await fuzzControl(pb, url);
    assert.doesNotMatch(pb.stderr(), / lost: /, 'the device was never lost');
    // The device still serves a fresh peer: a program on the slave reads what the peer typed
    // (kept in the pty until it opens it), then answers, which the peer must get.
    const slave = /pty (\/dev\/pts\/\d+) ready/.exec(pb.stderr())![1]!;
    const ws = await openWs(url, { protocols: ['binary'] });
    const reader = spawnTracked('/usr/bin/python3', [
      '-c',
      'import os,sys\nfd=os.open(sys.argv[1],os.O_RDWR|os.O_NOCTTY)\nd=b""\nwhile b"fuzz" not in d: d+=os.read(fd,100)\nos.write(fd,b"from the device\\n")\nprint(d.decode(errors="replace"),flush=True)',
      slave,
    ]);
    const out = readAll(reader.stdout!);
    const got = new Promise<string>((resolve) => {
      let text = '';
      ws.on('message', (m: Buffer) => {
        text += m.toString();
        if (text.includes('from the device')) resolve(text);
      });
    });
    ws.send(Buffer.from('typed after the fuzz\n'));
    assert.match(await got, /from the device/);
    assert.match((await out).toString(), /typed after the fuzz/);
    ws.close();
  } finally {
    await pb.stop();
  }
});

// Peers that ask without reading the answers (issue 21 item 2): every door kind's cheapest answered request, flooded.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import WebSocket from 'ws';
import { sha256, startPtyb, tcpServer } from './helpers/ptyb.js';
import { MiB, rssBytes } from './helpers/load.js';
import { until } from './helpers/until.js';
import { wsUrl, withToken, TOKEN } from './helpers/ws.js';

/** What a flooder sends at most; it usually stalls much earlier, once ptybridge stops reading it. */
const FLOOD = 16 * MiB;
/** The device's output during the flood: less than ?peer-queue, so a flooder is not dropped for it. */
const PAYLOAD = randomBytes(512 * 1024);
/** What the device writes: PAYLOAD and an end mark, so a reader knows it has it all without waiting for silence. */
const STREAM = Buffer.concat([PAYLOAD, Buffer.from('\r\n--end of the device stream--\r\n')]);
/** How long a flooder whose bytes are no longer taken goes on trying (an old build took them slowly, not never). */
const STALL_MS = 3000;
const VIEW_TOKEN = 'view-token-Zr8';

const IAC = 255;
const AYT = 246;
const DO = 253;
const WILL = 251;

/** A flooder: connects, never reads, sends its request again and again until FLOOD or until it is no longer read. */
interface Flooder {
  name: string;
  door: string;
  /** `send` hands over one batch and says how many bytes (0: the last batch is not taken yet); `waiting`: bytes not yet taken by the kernel. */
  connect(addr: { port: number; path: string }): Promise<{ send(): number; waiting(): number; close(): void }>;
}

/** A raw socket that repeats `request` in 64 KiB writes. */
function socketFlooder(name: string, door: string, request: Buffer, unix = false): Flooder {
  return {
    name,
    door,
    async connect({ port, path }) {
      const s = unix ? net.connect(path) : net.connect(port, '127.0.0.1');
      s.on('error', () => {});
      await once(s, 'connect');
      s.pause(); // never reads
      const chunk = Buffer.alloc(64 * 1024 - ((64 * 1024) % request.length));
      for (let i = 0; i < chunk.length; i += request.length) request.copy(chunk, i);
      return {
        send: () => (s.writableLength > 0 ? 0 : (s.write(chunk), chunk.length)),
        waiting: () => (s.destroyed ? -1 : s.writableLength),
        close: () => s.destroy(),
      };
    },
  };
}

/** A WebSocket client (the `ws` package) that repeats a message or a ping without reading. */
function wsFlooder(name: string, door: string, opts: { protocol?: string; token: string; what: 'ping' | string | Buffer }): Flooder {
  return {
    name,
    door,
    async connect({ port }) {
      const url = wsUrl(port).replace(TOKEN, opts.token);
      const ws = new WebSocket(url, opts.protocol ? [opts.protocol] : [], { perMessageDeflate: false });
      ws.on('error', () => {});
      await once(ws, 'open');
      ws.pause(); // never reads
      // Masked client frames: a 6-byte header, then the message.
      const what = opts.what;
      // Small requests in big batches; 1 KiB data frames in smaller ones.
      const frames = what.length > 100 ? 64 : 2048;
      const size = frames * (6 + (what === 'ping' ? 0 : what.length));
      return {
        send() {
          if (ws.bufferedAmount > 256 * 1024 || ws.readyState !== ws.OPEN) return 0;
          for (let i = 0; i < frames; i++) {
            if (what === 'ping') ws.ping();
            else ws.send(what);
          }
          return size;
        },
        waiting: () => (ws.readyState !== ws.OPEN ? -1 : ws.bufferedAmount),
        close: () => ws.terminate(),
      };
    },
  };
}

const ayt = Buffer.of(IAC, AYT);
const FLOODERS: Flooder[] = [
  socketFlooder('telnet IAC AYT, read-only door', 'tcp-listen:0?telnet&readonly', ayt),
  socketFlooder('telnet IAC AYT, full door', 'tcp-listen:0?telnet', ayt),
  socketFlooder('telnet IAC DO/WILL of an unknown option, read-only door', 'tcp-listen:0?telnet&readonly', Buffer.of(IAC, DO, 99, IAC, WILL, 99)),
  socketFlooder('raw tcp bytes, read-only door', 'tcp-listen:0?readonly', Buffer.from('x')),
  socketFlooder('raw tcp bytes, full door', 'tcp-listen:0', Buffer.from('x')),
  socketFlooder('unix bytes, read-only door', 'unix-listen:SOCK?readonly', Buffer.from('x'), true),
  wsFlooder('ws JSON {"type":"keyboard"}, view token', 'WS', { token: VIEW_TOKEN, what: '{"type":"keyboard"}' }),
  wsFlooder('ws JSON {"type":"take"}, view token', 'WS', { token: VIEW_TOKEN, what: '{"type":"take"}' }),
  wsFlooder('ws JSON {"type":"take"}, full token', 'WS', { token: TOKEN, what: '{"type":"take"}' }),
  wsFlooder('ws JSON {"type":"keyboard"}, full token', 'WS', { token: TOKEN, what: '{"type":"keyboard"}' }),
  // ws itself closes a client that pings without reading the pongs; ptybridge must stay as it was.
  wsFlooder('ws ping, no subprotocol, view token', 'WS', { token: VIEW_TOKEN, what: 'ping' }),
  wsFlooder('ws bytes, subprotocol binary, view token', 'WS', { token: VIEW_TOKEN, what: Buffer.alloc(1024, 'x'), protocol: 'binary' }),
  wsFlooder('ws bytes, subprotocol base64, full token', 'WS', { token: TOKEN, what: Buffer.alloc(1024, 'x').toString('base64'), protocol: 'base64' }),
];

for (const f of FLOODERS) {
  test(`flood without reading: ${f.name}: RSS stays within +64 MiB, a reading peer gets the device's stream byte-exact`, async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'ptyb-flood-'));
    // The device is a TCP server of ours: it writes STREAM when told, and swallows input.
    let device!: net.Socket;
    let deviceConnected!: () => void;
    const deviceUp = new Promise<void>((r) => (deviceConnected = r));
    const server = await tcpServer((s) => {
      device = s;
      s.resume();
      deviceConnected();
    });
    const door = f.door === 'WS' ? withToken(`ws-listen:0?view-token=${VIEW_TOKEN}`) : f.door.replace('SOCK', join(dir, 'door.sock'));
    const pb = await startPtyb(['-v', `tcp:127.0.0.1:${server.port}?share`, 'tcp-listen:0', door], { listeners: 2 });
    let flooder: Awaited<ReturnType<Flooder['connect']>> | undefined;
    let reader: net.Socket | undefined;
    try {
      await deviceUp;
      const pid = pb.proc.pid!;
      reader = net.connect(pb.listening[0]!.port, '127.0.0.1');
      const got: Buffer[] = [];
      let gotBytes = 0;
      reader.on('data', (c: Buffer) => {
        got.push(c);
        gotBytes += c.length;
      });
      await once(reader, 'connect');
      flooder = await f.connect(pb.listening[1]!);
      await pb.logged(/\(2 peers\)/, 'the flooder joined');
      const baseline = rssBytes(pid);
      let rssMax = baseline;

      // Flood until FLOOD was handed over or ptybridge has taken nothing more for a second.
      let sent = 0;
      let stalledFor = 0;
      let payloadSent = false;
      let taken = 0;
      while (sent < FLOOD && stalledFor < STALL_MS) {
        const n = flooder.send();
        sent += n;
        if (n === 0) {
          // The point of the loop: "taken nothing for STALL_MS" is measured in time (the flood is bounded by FLOOD too).
          await sleep(50);
          const waiting = flooder.waiting();
          const now = sent - waiting;
          stalledFor = waiting < 0 || now === taken ? stalledFor + 50 : 0;
          taken = now;
        }
        if (!payloadSent && sent >= FLOOD / 4) {
          payloadSent = true;
          device.write(STREAM);
        }
        rssMax = Math.max(rssMax, rssBytes(pid));
        await new Promise((r) => setImmediate(r));
      }
      if (!payloadSent) device.write(STREAM);
      await until(
        () => {
          rssMax = Math.max(rssMax, rssBytes(pid));
          return gotBytes >= STREAM.length;
        },
        { what: `the ${STREAM.length} bytes of the stream at the reading peer`, step: 50, detail: () => `it has ${gotBytes}\n${pb.stderr()}` },
      );
      rssMax = Math.max(rssMax, rssBytes(pid));
      // Anything extra (a stray notice) before the end mark would show in the bytes.
      const received = Buffer.concat(got);
      assert.equal(received.length, STREAM.length, 'the reading peer got the whole stream and nothing else');
      assert.equal(sha256(received), sha256(STREAM), 'byte-exact');
      t.diagnostic(`sent ${(sent / MiB).toFixed(1)} MiB, RSS ${(baseline / MiB).toFixed(0)} → ${(rssMax / MiB).toFixed(0)} MiB`);
      assert.ok(
        rssMax - baseline < 64 * MiB,
        `RSS ${(baseline / MiB).toFixed(0)} → max ${(rssMax / MiB).toFixed(0)} MiB while ${(sent / MiB).toFixed(0)} MiB were sent`,
      );
    } finally {
      flooder?.close();
      reader?.destroy();
      const { code } = await pb.stop();
      await server.close();
      rmSync(dir, { recursive: true, force: true });
      assert.equal(code, 0, pb.stderr().slice(-2000));
    }
  });
}

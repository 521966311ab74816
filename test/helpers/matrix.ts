// The device × door × client matrix (docs/ARCHITECTURE.md): one shared cell runner; test/matrix-*.test.ts hold the tables.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { PTYBRIDGE, runTool, spawnTracked, startPtyb, type Running } from './ptyb.js';
import { startFakeVm, until, type FakeVm } from './devices.js';
import WebSocket from 'ws';

/*
 * What each cell checks (runCell), and where a kind or door cannot do all of it:
 *
 *   device \ door   tcp-listen  ?telnet   unix-listen  ws-listen?token  udp-listen
 *   pty (link)      all         all       all          all              one session*
 *   serial (link)   all         all       all          all              one session*
 *   exec:?share     text†       text†     text†        text†            one session*, text†
 *   file:           end‡        end‡      end‡         end‡             one session*, end‡
 *   stdio (-)       end‡        end‡      end‡         end‡             one session*, end‡
 *
 * all: output and typing byte-exact (1 KiB random + a tag), a late joiner gets the replay and
 * both ways work for it, the device is lost (peers told) and back (bytes flow again).
 * * udp-listen holds one session: the late joiner takes it over (answers go to the last
 *   sender) and gets no replay. † a shell on a pty is not binary-clean: text lines, answered
 *   got:LINE; its loss is the command exiting, its return the hub restarting it. ‡ cannot come
 *   back and need not: the end of a file's content or of stdin is said once, typing still
 *   reaches it, nothing is lost or refused. stdio exists once per process: one ptybridge per
 *   cell. /usr/bin/telnet (REAL_TELNET) types keys, so its cells are text.
 */
const TOKEN = 'matrix-token';

/** A client as a user would run it: bytes in, everything it has received so far. */
export interface Client {
  write(data: Buffer | string): void;
  got(): Buffer;
  close(): Promise<void>;
}

/** Waits until `client` has received `want` (a contiguous run of bytes). */
export const sees = (client: Client, want: Buffer | string) => until(() => client.got().includes(want));

function childClient(child: ChildProcess): Client {
  const chunks: Buffer[] = [];
  child.stdout!.on('data', (c: Buffer) => chunks.push(c));
  child.stderr!.resume();
  child.stdin!.on('error', () => {});
  return {
    write: (d) => child.stdin!.write(d),
    got: () => Buffer.concat(chunks),
    async close() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const gone = once(child, 'exit');
      child.kill();
      await gone;
    },
  };
}

export interface Door {
  name: string;
  /** The listener's address for ptybridge; `dir` is a scratch directory. */
  uri(dir: string): string;
  /** The real client a user would point at it. */
  connect(pb: Running): Promise<Client>;
  /** udp-listen holds one session: a late joiner takes it over (answers go to the last sender), with no replay. */
  oneSession?: boolean;
  /** A person's keys at a terminal: printable text, Enter sent as the terminal sends it. */
  keysOnly?: boolean;
}

/**
 * /usr/bin/telnet as a person runs it: on a terminal (tmux), what it prints going to a file
 * (telnet writes the data it receives as it is), keys sent with tmux send-keys.
 */
export const REAL_TELNET: Door = {
  name: 'tcp-listen?telnet + /usr/bin/telnet (tmux)',
  uri: () => 'tcp-listen:0?telnet',
  keysOnly: true,
  async connect(pb) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ptyb-telnet-'));
    const out = path.join(dir, 'out');
    const sock = `ptyb-matrix-${process.pid}-${randomBytes(3).toString('hex')}`;
    const tmux = (...a: string[]) => runTool('tmux', ['-L', sock, ...a]);
    await tmux('new-session', '-d', '-x', '120', '-y', '30', `telnet 127.0.0.1 ${pb.listening[0]!.port} > ${out}`);
    await until(() => fs.existsSync(out) && fs.readFileSync(out, 'latin1').includes('Escape character'));
    let typing = Promise.resolve();
    return {
      write(d) {
        const text = d.toString('latin1');
        const keys = text.endsWith('\n') ? text.slice(0, -1) : text;
        typing = typing.then(async () => {
          if (keys) await tmux('send-keys', '-l', keys);
          if (keys !== text) await tmux('send-keys', 'Enter');
        });
      },
      got: () => (fs.existsSync(out) ? fs.readFileSync(out) : Buffer.alloc(0)),
      async close() {
        await typing;
        await tmux('kill-server');
        fs.rmSync(dir, { recursive: true, force: true });
      },
    };
  },
};

export const DOORS: Door[] = [
  {
    name: 'tcp-listen + socat',
    uri: () => 'tcp-listen:0',
    connect: async (pb) => childClient(spawnTracked('socat', ['-', `TCP:127.0.0.1:${pb.listening[0]!.port}`])),
  },
  {
    name: 'tcp-listen?telnet + ptybridge - tcp:?telnet',
    uri: () => 'tcp-listen:0?telnet',
    connect: async (pb) => childClient(spawnTracked(process.execPath, [PTYBRIDGE, '-', `tcp:127.0.0.1:${pb.listening[0]!.port}?telnet`])),
  },
  {
    name: 'unix-listen + socat',
    uri: (dir) => `unix-listen:${path.join(dir, 'door.sock')}`,
    connect: async (pb) => childClient(spawnTracked('socat', ['-', `UNIX-CONNECT:${pb.listening[0]!.path}`])),
  },
  {
    name: 'ws-listen?token + ws client',
    uri: () => `ws-listen:0?token=${TOKEN}`,
    async connect(pb) {
      // Listening before 'open': the replay can come in the same read as the handshake's answer.
      const ws = new WebSocket(`ws://127.0.0.1:${pb.listening[0]!.port}/?token=${TOKEN}`, ['binary'], { perMessageDeflate: false });
      const chunks: Buffer[] = [];
      ws.on('message', (d: Buffer) => chunks.push(d));
      await once(ws, 'open');
      ws.on('error', () => {});
      return {
        write: (d) => ws.send(d),
        got: () => Buffer.concat(chunks),
        async close() {
          if (ws.readyState === ws.CLOSED) return;
          const closed = once(ws, 'close');
          ws.close();
          await closed;
        },
      };
    },
  },
  {
    name: 'udp-listen + socat',
    uri: () => 'udp-listen:0',
    oneSession: true,
    async connect(pb) {
      const c = childClient(spawnTracked('socat', ['-', `UDP:127.0.0.1:${pb.listening[0]!.port}`]));
      c.write('\n'); // a datagram opens (or takes over) the session
      return c;
    },
  },
];

/** A shared device kind: what ptybridge opens, and how the test plays the device's side. */
export interface DeviceKind {
  name: string;
  /** Whether arbitrary bytes pass (a cooked shell does not). */
  binary: boolean;
  start(dir: string): Promise<Device>;
}

export interface Device {
  uri: string;
  /** Called once ptybridge runs (stdio is ptybridge's own stdin and stdout). */
  attach?(pb: Running): void;
  /** Makes the device output bytes; undefined where it only answers what is typed. */
  say?(data: Buffer): void;
  /** Resolves once the device has received `data` typed by `by`. */
  received(data: Buffer, by: Client): Promise<void>;
  /** The device goes away, and returns where it can: `lose` then `back`. */
  lose?(by: Client): Promise<void>;
  back?(): Promise<void>;
  /** How its end shows where it cannot come back (file, stdio): checked on ptybridge's log. */
  ends?(pb: Running): Promise<void>;
  stop(): Promise<void>;
}

/** A fake VM's pty behind a symlink that the VM re-makes when it boots: `scheme:LINK` (pty, serial). */
export function vmDevice(scheme: 'pty' | 'serial'): DeviceKind {
  return {
    name: `${scheme}: (a VM's pty, by its link)`,
    binary: true,
    async start(dir) {
      const link = path.join(dir, 'vm-console');
      let vm: FakeVm = await startFakeVm(link);
      return {
        // Random bytes: the late joiner's replay is checked as the byte tail (a pty's default is
        // the re-rendered screen, which test/screen-join.test.ts covers).
        uri: `${scheme}:${link}?replay=bytes`,
        say: (d) => vm.say(d),
        received: (d) => until(() => vm.received().includes(d)),
        lose: () => vm.quit(),
        async back() {
          vm = await startFakeVm(link);
        },
        stop: () => vm.quit(),
      };
    },
  };
}

/** A shared shell loop on a pty: answers each line typed with got:LINE; "exit" ends it and the hub restarts it. */
export const execShare: DeviceKind = {
  name: 'exec:…?share (a shared command)',
  binary: false,
  async start() {
    const script = 'stty -echo; echo ready; while read l; do [ "$l" = exit ] && exit; echo "got:$l"; done';
    return {
      uri: `exec:${script}?shell&share`,
      received: (d, by) => sees(by, `got:${d.toString('latin1').trim()}`),
      lose: async (by) => by.write('exit\n'),
      back: async () => {},
      stop: async () => {},
    };
  },
};

/** A file with content: its content is the output; typed bytes are written after it; its end is not a loss. */
export const fileDevice: DeviceKind = {
  name: 'file:',
  binary: true,
  async start(dir) {
    const p = path.join(dir, 'device-file');
    const content = Buffer.concat([Buffer.from('file content|'), randomBytes(1024)]);
    fs.writeFileSync(p, content);
    return {
      uri: `file:${p}`,
      received: (d) => until(() => fs.readFileSync(p).subarray(content.length).includes(d)),
      content,
      async ends(pb) {
        await until(() => pb.stderr().includes(`file ${p}: all of its content sent; what peers send is still written to it`));
      },
      stop: async () => {},
    } as Device & { content: Buffer };
  },
};

/** ptybridge's own stdin (the device's output) and stdout (where typing goes); stdin's end is said once. */
export const stdioDevice: DeviceKind = {
  name: 'stdio (-)',
  binary: true,
  async start() {
    let pb!: Running;
    const out: Buffer[] = [];
    return {
      uri: '-',
      attach(running) {
        pb = running;
        pb.proc.stdout!.on('data', (c: Buffer) => out.push(c));
      },
      say: (d) => pb.proc.stdin!.write(d),
      received: (d) => until(() => Buffer.concat(out).includes(d)),
      async ends(running) {
        running.proc.stdin!.end();
        await until(() => running.stderr().includes('stdio: stdin ended; what peers send still goes to stdout'));
      },
      stop: async () => {},
    };
  },
};

const tag = (what: string, binary: boolean) =>
  Buffer.concat([Buffer.from(`<${what}:${randomBytes(4).toString('hex')}>`), binary ? randomBytes(1024) : Buffer.alloc(0), Buffer.from('\n')]);

/**
 * One cell: output reaches the client and typing reaches the device, byte-exact; a late joiner
 * gets the replay (or, through udp-listen, takes over the one session) and both ways work for
 * it; then the device goes and comes back (the peers are told and bytes flow again), or, for a
 * kind that cannot come back, its end is said once and typing still reaches it.
 */
export async function runCell(kind: DeviceKind, door: Door): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ptyb-matrix-'));
  const device = await kind.start(dir);
  const clients: Client[] = [];
  let pb: Running | undefined;
  try {
    pb = await startPtyb(['-v', device.uri, door.uri(dir)]);
    device.attach?.(pb);
    const bin = kind.binary && !door.keysOnly;
    // Typed bytes reach the device exactly; Enter at a terminal arrives as the terminal sends it.
    const type = async (c: Client, data: Buffer) => {
      c.write(data);
      await device.received(door.keysOnly ? data.subarray(0, -1) : data, c);
    };
    const a = await door.connect(pb);
    clients.push(a);
    await until(() => pb!.stderr().includes('(1 peer)'));
    const content = (device as { content?: Buffer }).content;
    if (content) await sees(a, content); // a file's content is its output
    const out1 = tag('out1', bin);
    if (device.say) {
      device.say(out1);
      await sees(a, out1);
    }
    const in1 = tag('in1', bin);
    await type(a, in1);

    const b = await door.connect(pb);
    clients.push(b);
    if (!door.oneSession) {
      await until(() => pb!.stderr().includes('(2 peers)'));
      if (device.say) await sees(b, out1); // the replay
    }
    /** Typing from `typist` reaches the device; the device's output reaches `readers`. */
    const bothWays = async (n: number, typist: Client, readers: Client[]) => {
      await type(typist, tag(`in${n}`, bin));
      if (!device.say) return;
      const out = tag(`out${n}`, bin);
      device.say(out);
      for (const r of readers) await sees(r, out);
    };
    await bothWays(2, b, door.oneSession ? [b] : [b, a]);

    const last = door.oneSession ? b : a;
    if (device.lose && device.back) {
      await device.lose(last);
      await sees(last, 'reopening]\r\n');
      await device.back();
      await sees(last, 'is back]\r\n');
      await bothWays(3, last, [last]);
    } else {
      await device.ends!(pb);
      await type(last, tag('in3', bin));
      assert.doesNotMatch(pb.stderr(), / lost: |reopening|is back/, 'an end that is not a loss');
    }
    assert.doesNotMatch(pb.stderr(), /refused/, 'nothing typed was refused');
  } finally {
    await Promise.all(clients.map((c) => c.close()));
    await pb?.stop();
    await device.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

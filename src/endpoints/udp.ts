// udp: and udp-listen: — datagrams: each write is one datagram out, each datagram in is one chunk.
import dgram from 'node:dgram';
import dns from 'node:dns/promises';
import net from 'node:net';
import { Duplex } from 'node:stream';
import { EndpointError } from '../errors.js';
import { duration, size, defineOptions } from '../options.js';
import { formatHostPort, parseHostPort, type HostPort } from '../uri.js';
import type { ConnectingType, ListeningType, OpenContext } from '../core/endpoint.js';
import { doorOptions } from './hub-options.js';

/** The largest UDP payload over IPv4 (65535 less the IP and UDP headers). */
export const MAX_DATAGRAM = 65507;
/**
 * Datagrams that arrive while the reader is this far behind are dropped, as the kernel
 * would drop them: UDP has no flow control, and memory must stay bounded.
 */
const QUEUE_LIMIT = 1024 * 1024;
/** Asked of the kernel so bursts are not dropped before we read them; it caps this at rmem_max. */
const RECV_BUFFER = 1024 * 1024;

const datagramOptions = {
  size: size(8192, `largest datagram sent; a longer write is split into datagrams of this size (like socat -b), at most ${MAX_DATAGRAM}`, MAX_DATAGRAM, 1),
  linger: duration(500, 'after the other side has ended, wait this long for more datagrams, then end (like socat -t)'),
  idle: duration(0, 'end after this long without a datagram either way (0: never)'),
};
type DatagramOptions = { size: number; linger: number; idle: number };

const NOTES = [
  'Datagram boundaries are kept: each datagram received is one chunk for the other side, and',
  'each chunk written is sent as one datagram, split into pieces of at most ?size bytes',
  '(a stream peer such as tcp: therefore arrives as datagrams of up to ?size bytes).',
  'Empty datagrams are ignored. UDP has no flow control: if the other side falls 1 MiB',
  'behind, further datagrams are dropped, as the kernel would drop them.',
  'UDP has no end: after the other side ends, the link ends once no datagram came for ?linger.',
];

/** A Duplex over a datagram socket: one write, one (or several, split) datagram; one datagram, one chunk. */
export class DatagramLink extends Duplex {
  private lingerTimer: NodeJS.Timeout | undefined;
  private idleTimer: NodeJS.Timeout | undefined;
  private writeEnded = false;
  private readEnded = false;
  /** Datagrams dropped because the reader was QUEUE_LIMIT behind. */
  dropped = 0;

  constructor(
    private readonly sendOne: (datagram: Buffer, done: (err?: Error | null) => void) => void,
    private readonly opts: DatagramOptions,
    private readonly onDestroy: () => void,
  ) {
    super({ allowHalfOpen: true });
    this.touch();
  }

  /** A datagram arrived from the peer. */
  deliver(datagram: Buffer): void {
    if (this.destroyed || this.readEnded) return;
    this.touch();
    if (datagram.length === 0) return;
    if (this.readableLength > QUEUE_LIMIT) {
      this.dropped++;
      return;
    }
    this.push(datagram);
  }

  override _read(): void {
    // Datagrams are pushed as they arrive; there is nothing to pull.
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, done: (err?: Error | null) => void): void {
    this.touch();
    const step = this.opts.size;
    let off = 0;
    const next = (err?: Error | null): void => {
      if (err) return done(err);
      if (off >= chunk.length) return done();
      const piece = chunk.subarray(off, off + step);
      off += piece.length;
      this.sendOne(piece, next);
    };
    next();
  }

  override _final(done: (err?: Error | null) => void): void {
    this.writeEnded = true;
    this.touch();
    done();
  }

  override _destroy(err: Error | null, done: (err?: Error | null) => void): void {
    clearTimeout(this.lingerTimer);
    clearTimeout(this.idleTimer);
    this.onDestroy();
    done(err);
  }

  /** Traffic either way: restart the idle timer, and the linger timer once our write side has ended. */
  private touch(): void {
    if (this.opts.idle > 0) {
      clearTimeout(this.idleTimer);
      this.idleTimer = setTimeout(() => this.endReading(), this.opts.idle);
    }
    if (this.writeEnded) {
      clearTimeout(this.lingerTimer);
      this.lingerTimer = setTimeout(() => this.endReading(), this.opts.linger);
    }
  }

  private endReading(): void {
    if (this.readEnded || this.destroyed) return;
    this.readEnded = true;
    clearTimeout(this.idleTimer);
    clearTimeout(this.lingerTimer);
    this.push(null);
  }
}

/** An IP literal as is; a name looked up once. */
async function resolve(uri: string, host: string): Promise<{ address: string; family: 4 | 6 }> {
  const family = net.isIP(host);
  if (family) return { address: host, family: family as 4 | 6 };
  try {
    const found = await dns.lookup(host);
    return { address: found.address, family: found.family as 4 | 6 };
  } catch (err) {
    throw new EndpointError(uri, err);
  }
}

const udpOptions = defineOptions(datagramOptions);

export const udp: ConnectingType<HostPort, typeof udpOptions> = {
  scheme: 'udp',
  role: 'connecting',
  sharing: 'per-peer',
  summary: 'send datagrams to host:port and read its answers',
  targetForm: 'host:port',
  examples: ['ptybridge - udp:127.0.0.1:5000', 'ptybridge tcp-listen:7000 udp:[::1]:5000?size=1400'],
  notes: [
    ...NOTES,
    'Only datagrams from host:port are read (the socket is connected); a port that nobody',
    'listens on makes the link fail with ECONNREFUSED once the kernel learns it.',
  ],
  options: udpOptions,
  parseTarget: (target, uri) => parseHostPort(target, uri, { listening: false }),
  async open(spec, _ctx) {
    const { address, family } = await resolve(spec.uri, spec.target.host);
    const socket = dgram.createSocket({ type: family === 6 ? 'udp6' : 'udp4', recvBufferSize: RECV_BUFFER });
    await new Promise<void>((ok, fail) => {
      const onError = (err: Error) => {
        socket.close();
        fail(new EndpointError(spec.uri, err));
      };
      socket.once('error', onError);
      socket.connect(spec.target.port, address, () => {
        socket.off('error', onError);
        ok();
      });
    });
    const link = new DatagramLink(
      (d, done) => socket.send(d, done),
      spec.options,
      () => closeQuietly(socket),
    );
    socket.on('message', (m) => link.deliver(m));
    socket.on('error', (err) => link.destroy(err));
    return { stream: link, label: `udp ${formatHostPort(address, spec.target.port)}` };
  },
};

const udpListenOptions = defineOptions({ ...datagramOptions, ...doorOptions });

export const udpListen: ListeningType<HostPort, typeof udpListenOptions> = {
  scheme: 'udp-listen',
  role: 'listening',
  summary: 'receive datagrams; the first one opens a link, answers go to the last sender',
  targetForm: '[host:]port',
  examples: ['ptybridge udp-listen:5000 tcp:localhost:23000', 'ptybridge udp-listen:[::1]:5000?idle=30s unix:/run/app.sock'],
  notes: [
    ...NOTES,
    'UDP has no connections, so the listener holds ONE session at a time (like socat',
    'UDP-LISTEN without fork): the first datagram opens a link, which the router joins to the',
    'other side; datagrams from any sender go into that link, and its output is sent to',
    'whoever sent the latest datagram. When the link ends (see ?linger, ?idle) the next',
    'datagram opens a new one. A bare port binds 127.0.0.1 only.',
  ],
  options: udpListenOptions,
  parseTarget: (target, uri) => parseHostPort(target, uri, { listening: true }),
  async listen(spec, onLink, ctx: OpenContext) {
    const { host, port, defaultedHost } = spec.target;
    const { address, family } = await resolve(spec.uri, host);
    const socket = dgram.createSocket({ type: family === 6 ? 'udp6' : 'udp4', recvBufferSize: RECV_BUFFER });
    await new Promise<void>((ok, fail) => {
      const onError = (err: Error) => {
        closeQuietly(socket);
        fail(new EndpointError(spec.uri, err));
      };
      socket.once('error', onError);
      socket.bind({ port, address, exclusive: true }, () => {
        socket.off('error', onError);
        ok();
      });
    });
    const bound = socket.address();
    let current: DatagramLink | undefined; // the one peer now
    let closing = false; // no new peer
    let closed = false; // no more sends
    let peer = { address: '', port: 0 };
    socket.on('error', (err) => {
      // An unconnected socket reports little; a failure here ends the peer, not the door.
      ctx.log.info(`${spec.uri}: ${err.message}`);
      current?.destroy(err);
    });
    socket.on('message', (msg, rinfo) => {
      if (closed || (closing && !current)) return;
      peer = { address: rinfo.address, port: rinfo.port };
      if (!current) {
        const link: DatagramLink = new DatagramLink(
          (d, done) => {
            if (closed) return done(new Error('the listener is closed'));
            socket.send(d, peer.port, peer.address, done);
          },
          spec.options,
          () => {
            if (current === link) current = undefined;
            if (link.dropped) ctx.log.warn(`${spec.uri}: dropped ${link.dropped} datagrams the other side could not take`);
          },
        );
        current = link;
        onLink({ stream: link, label: `udp ${formatHostPort(rinfo.address, rinfo.port)}` });
      }
      current.deliver(msg);
    });
    if (defaultedHost) {
      ctx.log.warn(`${spec.uri}: bound to loopback only; write udp-listen:0.0.0.0:${bound.port} to accept other machines`, {
        event: 'loopback-only',
        port: bound.port,
      });
    }
    return {
      label: `udp ${formatHostPort(bound.address, bound.port)}`,
      async close() {
        // Let the router flush the live peer before the socket goes away.
        closing = true;
        const live = current;
        if (live && !live.destroyed) await new Promise((r) => live.once('close', r));
        closed = true;
        closeQuietly(socket);
      },
    };
  },
};

function closeQuietly(socket: dgram.Socket): void {
  try {
    socket.close();
  } catch {
    // already closed
  }
}

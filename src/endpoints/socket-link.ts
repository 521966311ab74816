// Shared by the stream-socket families (tcp, tls, unix): a net.Socket as a Link, a net.Server as a Listener, liveness and ?max.
import net from 'node:net';
import { EndpointError } from '../errors.js';
import { duration, flag } from '../options.js';
import { formatHostPort } from '../uri.js';
import { hubOptions } from './hub-options.js';
import { poolAcceptedReads, pooledReads } from '../core/read-pool.js';
import type { ByteStream, Listener } from '../core/link.js';
import type { OpenContext } from '../core/endpoint.js';

/**
 * `?share` for connecting sockets (unix:, tcp:): a VM's serial socket (QEMU `-serial
 * unix:…,server=on`, Proxmox's /var/run/qemu-server/ID.serial0, libvirt `<serial
 * type='unix'>`) takes one client, so a second peer given its own connection would steal
 * the console or hang unanswered. Shared, it is one hub device like a pty, and the hub's
 * reopen is the reconnect when the VM restarts.
 */
export const shareOptions = {
  share: flag(
    false,
    'behind a listener: connect once and share that one connection among all peers (a hub, like a pty), reconnecting with backoff when it closes; for a console socket that takes one client (QEMU -serial …,server=on)',
  ),
  ...hubOptions,
};

/** What `--help unix` / `--help tcp` say about `?share`. */
export function shareNotes(example: string): string[] {
  return [
    'Behind a listener each peer gets its own connection. With ?share ptybridge connects once and',
    "every peer shares that connection (output to all, input merged, ?policy, ?replay), as a VM's",
    `serial socket needs: ${example}`,
    'When the far side closes (the VM stopped or restarts) the peers stay connected, are told in one',
    'line, and ptybridge reconnects with backoff (100 ms doubling to 5 s) until the socket answers',
    'again. A socket that does not answer at start (the VM is off) is waited for the same way: the',
    'listeners start, a warning says why, and peers are told the device is down until it answers.',
  ];
}

/**
 * How a silent or vanished peer is found (tcp, tls): a peer that disappears without FIN
 * (cable pulled, VM killed, NAT forgot us) would otherwise hold its socket, and a ?max slot, forever.
 */
export const livenessOptions = {
  keepalive: duration(60_000, 'TCP keepalive: probe a silent peer after this long, so one that vanished is found (0: off)'),
  idle: duration(0, 'close the connection after this long with no bytes either way (0: never)'),
};

export function applyLiveness(socket: net.Socket, opts: { keepalive: number; idle: number }, ctx: OpenContext, label: string): void {
  if (opts.keepalive > 0) socket.setKeepAlive(true, opts.keepalive);
  if (opts.idle > 0) {
    // setTimeout counts reads and writes: a peer that stops reading stalls our writes, so it times out too.
    socket.setTimeout(opts.idle, () => {
      ctx.log.warn(`${label}: no traffic for ${opts.idle} ms (?idle): closing`);
      socket.destroy();
    });
  }
}

/** `?max=N` on a TCP server (tcp-listen, tls-listen): Node closes the extra peer itself, before any TLS handshake. */
export function limitPeers(server: net.Server, max: number, uri: string, kind: string, ctx: OpenContext): void {
  if (max <= 0) return;
  server.maxConnections = max;
  // Say so, once per peer, as ws-listen says "503 too many peers".
  server.on('drop', (d) =>
    ctx.log.info(`${uri}: refused ${kind} ${formatHostPort(d?.remoteAddress ?? '?', d?.remotePort ?? 0)}: too many peers (?max=${max})`),
  );
}

/** Connects a stream socket and resolves once it is connected; errors name the endpoint. */
export function connectSocket(uri: string, options: net.NetConnectOpts, label: (s: net.Socket) => string): Promise<ByteStream> {
  return new Promise((resolve, reject) => {
    // Reads land in recycled buffers (read-pool.ts); the socket is still an ordinary Duplex.
    const socket: net.Socket = net.connect({ ...options, allowHalfOpen: true, onread: pooledReads(() => socket) });
    const onError = (err: Error) => {
      socket.destroy();
      reject(new EndpointError(uri, err));
    };
    socket.once('error', onError);
    socket.once('connect', () => {
      socket.off('error', onError);
      resolve({ stream: socket, label: label(socket) });
    });
  });
}

/** How an IP door and its peers are named in the log (`tcp 127.0.0.1:8080`), for `listenSocket`. */
export function ipLabels(kind: string): { listener: (s: net.Server) => string; peer: (s: net.Socket) => string } {
  return {
    listener: (s) => {
      const a = s.address() as net.AddressInfo;
      return `${kind} ${formatHostPort(a.address, a.port)}`;
    },
    peer: (s) => `${kind} ${formatHostPort(s.remoteAddress ?? '?', s.remotePort ?? 0)}`,
  };
}

/** Binds a stream-socket server; each accepted socket becomes a ByteStream (the door's peer). */
export function listenSocket(
  uri: string,
  listenOptions: net.ListenOptions,
  server: net.Server,
  onLink: (link: ByteStream) => void,
  labels: { listener: (s: net.Server) => string; peer: (s: net.Socket) => string },
  ctx: OpenContext,
  /** A TLS server's peers are links once their handshake is done (`secureConnection`). */
  event: 'connection' | 'secureConnection' = 'connection',
): Promise<Listener & { server: net.Server }> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => reject(new EndpointError(uri, err));
    server.once('error', onError);
    server.on(event, (socket: net.Socket) => {
      // A plain accepted socket reads into recycled buffers too, as a connecting one does (read-pool.ts).
      if (event === 'connection') poolAcceptedReads(socket);
      onLink({ stream: socket, label: labels.peer(socket) });
    });
    server.listen(listenOptions, () => {
      server.off('error', onError);
      server.on('error', (err) => ctx.log.error(`${uri}: ${err.message}`));
      resolve({
        server,
        label: labels.listener(server),
        close: () => new Promise<void>((done) => server.close(() => done())),
      });
    });
  });
}

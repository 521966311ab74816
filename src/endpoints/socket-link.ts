// Shared by the stream-socket families (tcp, unix): a net.Socket as a Link, and a net.Server as a Listener.
import net from 'node:net';
import { EndpointError } from '../errors.js';
import { flag } from '../options.js';
import { hubOptions } from './hub-options.js';
import { pooledReads } from './read-pool.js';
import type { Link, Listener, OpenContext } from './types.js';

/**
 * `?share` for connecting sockets (unix:, tcp:): a VM's serial socket (QEMU `-serial
 * unix:…,server=on`, Proxmox's /var/run/qemu-server/ID.serial0, libvirt `<serial
 * type='unix'>`) takes one client, so a second peer given its own connection would steal
 * the console or hang unanswered. Shared, it is one hub device like a pty, and the hub's
 * reopen is the reconnect when the VM restarts.
 */
export const shareOptions = {
  share: flag(false, 'behind a listener: connect once and share that one connection among all peers (a hub, like a pty), reconnecting with backoff when it closes; for a console socket that takes one client (QEMU -serial …,server=on)'),
  ...hubOptions,
};

/** What `--help unix` / `--help tcp` say about `?share`. */
export function shareNotes(example: string): string[] {
  return [
    'Behind a listener each peer gets its own connection. With ?share ptybridge connects once and',
    'every peer shares that connection (output to all, input merged, ?policy, ?replay), as a VM\'s',
    `serial socket needs: ${example}`,
    'When the far side closes (the VM stopped or restarts) the peers stay connected, are told in one',
    'line, and ptybridge reconnects with backoff (100 ms doubling to 5 s) until the socket answers',
    'again. A socket that does not answer at start (the VM is off) is waited for the same way: the',
    'listeners start, a warning says why, and peers are told the device is down until it answers.',
  ];
}

/** Connects a stream socket and resolves once it is connected; errors name the endpoint. */
export function connectSocket(uri: string, options: net.NetConnectOpts, label: (s: net.Socket) => string): Promise<Link> {
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

/** Binds a stream-socket server; each accepted socket becomes a Link. */
export function listenSocket(
  uri: string,
  listenOptions: net.ListenOptions,
  server: net.Server,
  onLink: (link: Link) => void,
  labels: { listener: (s: net.Server) => string; peer: (s: net.Socket) => string },
  ctx: OpenContext,
): Promise<Listener & { server: net.Server }> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => reject(new EndpointError(uri, err));
    server.once('error', onError);
    server.on('connection', (socket) => onLink({ stream: socket, label: labels.peer(socket) }));
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

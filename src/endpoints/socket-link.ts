// Shared by the stream-socket families (tcp, unix): a net.Socket as a Link, and a net.Server as a Listener.
import net from 'node:net';
import { EndpointError } from '../errors.js';
import { pooledReads } from './read-pool.js';
import type { Link, Listener, OpenContext } from './types.js';

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

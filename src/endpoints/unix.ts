// unix: and unix-listen: — stream sockets on a filesystem path, with half-close like tcp.
import fs from 'node:fs';
import net from 'node:net';
import { dirname as pathDirname } from 'node:path';
import { EndpointError, PtybError, UsageError } from '../errors.js';
import { fileMode, int, defineOptions } from '../options.js';
import { quoteUri } from '../uri.js';
import { retryOptions, validateRetry, withConnectRetry } from './retry.js';
import { connectSocket, listenSocket, shareNotes, shareOptions } from './socket-link.js';
import type { ConnectingType, ListeningType } from '../core/endpoint.js';
import type { Listener } from '../core/link.js';
import { doorOptions } from './hub-options.js';

/** A socket path: any non-empty text; only opening checks it against the filesystem. */
function parsePath(target: string, uri: string): string {
  if (target === '') throw new UsageError(`${quoteUri(uri)}: missing path: expected a socket path such as /run/console.sock`);
  if (target.includes('\0')) throw new UsageError(`${quoteUri(uri)}: the path contains a NUL byte`);
  return target;
}

const unixOptions = defineOptions({ ...retryOptions, ...shareOptions });

export const unix: ConnectingType<string, typeof unixOptions> = {
  scheme: 'unix',
  role: 'connecting',
  sharing: 'per-peer',
  summary: 'connect to a unix stream socket (?share: a VM console socket shared by every peer)',
  targetForm: '/path',
  examples: [
    'ptybridge - unix:/run/qemu/serial0.sock',
    "ptybridge tcp-listen:23000 'unix:/tmp/console.sock?retry=10&interval=500ms'",
    "ptybridge unix:/var/run/qemu-server/101.serial0?share ws-listen:8080 tcp-listen:7001?telnet   # a Proxmox VM's console",
  ],
  notes: shareNotes('qemu -serial unix:/run/vm1.sock,server=on,wait=off; Proxmox /var/run/qemu-server/ID.serial0.'),
  options: unixOptions,
  parseTarget: parsePath,
  validate: validateRetry,
  waitsAtStart: (spec) => spec.options.share,
  open: (spec, ctx) => withConnectRetry(() => connectSocket(spec.uri, { path: spec.target }, () => `unix ${spec.target}`), spec, ctx),
};

const unixListenOptions = defineOptions({
  mode: fileMode('permissions of the socket file, set before any peer is accepted (default: 0666 less the umask)'),
  max: int(0, 0, 1_000_000, 'most peers connected at once; more are closed at once, each refusal logged at -v (0: no limit)'),
  ...doorOptions,
});

export const unixListen: ListeningType<string, typeof unixListenOptions> = {
  scheme: 'unix-listen',
  role: 'listening',
  summary: 'accept peers on a unix stream socket (replaces a stale socket file)',
  targetForm: '/path',
  examples: ['ptybridge pty:/dev/pts/4 unix-listen:/run/console.sock?mode=0660', 'ptybridge unix-listen:/tmp/a.sock tcp:localhost:5900'],
  notes: [
    'A socket file already at the path is probed with one connect: if something answers, the',
    'listener refuses to start (EADDRINUSE; that server sees one short connection); if it is',
    'refused, the stale file is removed. A path that is not a socket is never removed.',
    'The socket file is removed again when ptybridge stops (SIGINT, SIGTERM or exit).',
  ],
  options: unixListenOptions,
  parseTarget: parsePath,
  async listen(spec, onLink, ctx) {
    const path = spec.target;
    await clearStaleSocket(spec.uri, path);
    const server = net.createServer({ allowHalfOpen: true });
    let peers = 0;
    if (spec.options.max > 0) {
      server.maxConnections = spec.options.max;
      // Node closes the extra peer itself; say so, once per peer, as ws-listen says "503 too many peers".
      server.on('drop', () => ctx.log.info(`${spec.uri}: refused a peer: too many peers (?max=${spec.options.max})`));
    }
    // With ?mode, bind under a 0600 umask so that no peer can slip in before the chmod.
    // (A path bind happens synchronously inside listen(), so the umask is back at once.)
    const mode = spec.options.mode;
    const umask = mode === undefined ? undefined : process.umask(0o177);
    let listening: Promise<Listener>;
    try {
      listening = listenSocket(
        spec.uri,
        { path },
        server,
        onLink,
        {
          listener: () => `unix ${path}`,
          peer: () => `unix ${path}#${++peers}`,
        },
        ctx,
      );
    } finally {
      if (umask !== undefined) process.umask(umask);
    }
    const listener = await listening;
    const ino = fs.statSync(path).ino;
    if (mode !== undefined) {
      try {
        fs.chmodSync(path, mode);
      } catch (err) {
        await listener.close();
        throw new EndpointError(spec.uri, err);
      }
    }
    // libuv unlinks the socket file when the server closes; this covers exits that skip close()
    // and never removes a socket that someone else has bound at the same path since.
    const removeOwn = () => {
      try {
        if (fs.lstatSync(path).ino === ino) fs.unlinkSync(path);
      } catch {
        // already gone
      }
    };
    process.once('exit', removeOwn);
    return {
      label: listener.label,
      async close() {
        await listener.close();
        removeOwn();
        process.off('exit', removeOwn);
      },
    };
  },
};

/**
 * A socket file left by a process that died is removed; a live one (something answers a
 * connect) is refused, as is any path that is not a socket: we never delete a user's file.
 */
async function clearStaleSocket(uri: string, path: string): Promise<void> {
  let st: fs.Stats;
  try {
    st = fs.lstatSync(path);
  } catch {
    // Nothing there. libuv reports a missing directory as EACCES (for Windows' sake): say ENOENT.
    try {
      fs.statSync(pathDirname(path));
    } catch (err) {
      throw new EndpointError(uri, err);
    }
    return;
  }
  if (!st.isSocket()) {
    throw new EndpointError(uri, new PtybError('PTYB_ERR_OPEN', `EEXIST: ${path} exists and is not a socket; not removing it`, 1));
  }
  const live = await new Promise<boolean | Error>((resolve) => {
    const probe = net.connect({ path });
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED' ? false : err));
  });
  if (live === true) {
    throw new EndpointError(uri, new PtybError('PTYB_ERR_OPEN', `EADDRINUSE: a live socket is already listening at ${path}`, 1));
  }
  if (live instanceof Error) {
    if ((live as NodeJS.ErrnoException).code === 'ENOENT') return; // removed meanwhile
    throw new EndpointError(uri, live);
  }
  try {
    fs.unlinkSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new EndpointError(uri, err);
  }
}

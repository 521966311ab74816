// tls: and tls-listen: — TCP with TLS (socat OPENSSL: / OPENSSL-LISTEN:), where a client certificate names a peer and gives its role.
import type { OptionsOf } from '../core/option-schema.js';
import { readFile } from 'node:fs/promises';
import net from 'node:net';
import type { TLSSocket } from 'node:tls';
import { EndpointError, UsageError, describeOsError } from '../errors.js';
import { duration, flag, int, oneOf, text, defineOptions } from '../options.js';
import { parseHostPort, quoteUri, type HostPort } from '../uri.js';
import { telnetClientLink, telnetServerLink } from '../protocols/telnet-link.js';
import { askForCertificates, identify, type Verdict } from '../web/client-certs.js';
import { doorOptions } from './hub-options.js';
import { UsersFile, type User } from '../web/users.js';
import { retryOptions, validateRetry, withConnectRetry } from './retry.js';
import { applyLiveness, ipLabels, limitPeers, listenSocket, livenessOptions, shareNotes, shareOptions } from './socket-link.js';
import type { ConnectingType, ListeningType, OpenContext } from '../core/endpoint.js';
import type { ByteStream, Listener, PipeEnd } from '../core/link.js';

const labels = ipLabels('tls');
const peerLabel = labels.peer;

const minVersion = oneOf(['TLSv1.2', 'TLSv1.3'], 'TLSv1.2', 'oldest TLS version accepted');

/** How to make a CA, a server and a client certificate for a test, in three lines (--help tls, --help tls-listen). */
const TEST_CA = [
  "A test CA and certificates with openssl (CN alice becomes the peer's name; keep ca.key private):",
  '  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 365 -subj /CN=lab-ca -keyout ca.key -out ca.pem',
  '  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 365 -subj /CN=console.lab -addext subjectAltName=DNS:console.lab,IP:127.0.0.1 -CA ca.pem -CAkey ca.key -keyout srv.key -out srv.pem',
  '  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 365 -subj /CN=alice -CA ca.pem -CAkey ca.key -keyout alice.key -out alice.pem',
];

/** Reads the PEM files an address names; a missing or unreadable one names its option. */
async function readPem<K extends string>(uri: string, o: Partial<Record<K, string | undefined>>, keys: readonly K[]): Promise<Partial<Record<K, Buffer>>> {
  const out: Partial<Record<K, Buffer>> = {};
  for (const k of keys) {
    const file = o[k];
    if (file === undefined) continue;
    try {
      out[k] = await readFile(file);
    } catch (err) {
      throw new EndpointError(`${uri}: ${k}=${file}`, err);
    }
  }
  return out;
}

/**
 * Certificate checks fail with OpenSSL's verify codes (CERT_HAS_EXPIRED,
 * UNABLE_TO_VERIFY_LEAF_SIGNATURE, DEPTH_ZERO_SELF_SIGNED_CERT…) or Node's name check
 * (ERR_TLS_CERT_ALTNAME_INVALID): those say "the certificate", the rest are the connection's.
 */
const isCertificateError = (code: string | undefined) =>
  code !== undefined && (code === 'ERR_TLS_CERT_ALTNAME_INVALID' || (/^[A-Z_]+$/.test(code) && !/^E[A-Z]+$/.test(code) && !code.startsWith('ERR_')));

/** A handshake failure: the code, and OpenSSL's reason without its file and line ("tlsv1 alert unknown ca"). */
function describeTlsError(err: NodeJS.ErrnoException): string {
  const reason = /SSL routines:(?:[^:]*:)?([^:]+?)(?::|$)/.exec(err.message)?.[1];
  return err.code?.startsWith('ERR_SSL_') && reason ? `${err.code} (${reason})` : describeOsError(err);
}

const connectOptions = defineOptions({
  cert: text(undefined, 'client certificate (PEM) to present, for a server that asks for one; with key=', 'a file'),
  key: text(undefined, 'private key (PEM) of cert=', 'a file'),
  ca: text(undefined, "trust only these CA certificates (PEM) for the server's certificate; default: the system's store", 'a file'),
  verify: oneOf(
    ['peer', 'none'],
    'peer',
    'peer: refuse a server whose certificate is not signed by a trusted CA, expired, or for another name; none: accept any (encrypts, proves nothing)',
  ),
  servername: text(undefined, "the name the server's certificate must carry, and the SNI sent; default: the host, when it is a name", 'a host name'),
  'min-version': minVersion,
  nodelay: flag(true, 'send small writes at once (TCP_NODELAY); consoles want low latency'),
  telnet: flag(false, 'speak telnet to the server: NAWS for resizes, RFC 2217 for baud, DTR/RTS and BREAK'),
  ...livenessOptions,
  ...retryOptions,
  ...shareOptions,
});

/** Addresses already warned about ?verify=none (a ?share or per-peer route opens many times). */
const warnedUnverified = new WeakSet<object>();

/** Opens one TLS connection; resolves once the handshake has checked the server's certificate. */
async function connectTls(spec: { uri: string; target: HostPort; options: OptionsOf<typeof connectOptions> }, ctx: OpenContext): Promise<PipeEnd> {
  const { connect } = await import('node:tls');
  const o = spec.options;
  const pem = await readPem(spec.uri, o, ['cert', 'key', 'ca'] as const);
  const { host, port } = spec.target;
  const servername = o.servername ?? (net.isIP(host) ? undefined : host);
  if (o.verify === 'none' && !warnedUnverified.has(spec)) {
    warnedUnverified.add(spec);
    ctx.log.warn(`${spec.uri}: verify=none: the server's certificate is not checked; anyone on the path can pose as it`);
  }
  const link = await new Promise<ByteStream>((resolve, reject) => {
    const socket = connect({
      host,
      port,
      ...(servername !== undefined ? { servername } : {}),
      ...pem,
      rejectUnauthorized: o.verify === 'peer',
      minVersion: o['min-version'],
      // Not in @types/node's ConnectionOptions, but tls.connect passes it on to the socket: half-close as tcp: has it.
      ...({ allowHalfOpen: true } as object),
    });
    const onError = (err: NodeJS.ErrnoException) => {
      socket.destroy();
      if (isCertificateError(err.code)) reject(new EndpointError(`${spec.uri}: the server's certificate was refused`, err));
      else if (err.code?.startsWith('ERR_SSL_')) reject(new EndpointError(`${spec.uri}: TLS handshake`, new Error(describeTlsError(err))));
      else reject(new EndpointError(spec.uri, err));
    };
    socket.once('error', onError);
    socket.once('secureConnect', () => {
      socket.off('error', onError);
      resolve({ stream: socket, label: peerLabel(socket) });
    });
  });
  const socket = link.stream as TLSSocket;
  socket.setNoDelay(o.nodelay);
  applyLiveness(socket, o, ctx, link.label);
  ctx.log.debug(`${link.label}: ${socket.getProtocol()} ${socket.getCipher().standardName}`);
  return o.telnet ? telnetClientLink(link, ctx.log) : link;
}

export const tlsConnect: ConnectingType<HostPort, typeof connectOptions> = {
  scheme: 'tls',
  role: 'connecting',
  sharing: 'per-peer',
  summary: 'connect to a TLS server, checking its certificate (socat OPENSSL:)',
  targetForm: 'host:port',
  examples: [
    "ptybridge - 'tls:console.lab:7001?telnet&cert=alice.pem&key=alice.key&ca=ca.pem'   # ~. to quit",
    'ptybridge tcp-listen:5900 tls:vnc.example:5901?ca=ca.pem',
    "ptybridge 'tls:127.0.0.1:4555?share&servername=vm1.lab&ca=ca.pem' ws-listen:8080",
  ],
  notes: [
    "The server's certificate must be signed by a CA of ?ca= (else the system's store), be valid",
    'now, and name the host (or ?servername=); otherwise nothing is sent and one line says what',
    'failed: CERT_HAS_EXPIRED, ERR_TLS_CERT_ALTNAME_INVALID, UNABLE_TO_VERIFY_LEAF_SIGNATURE…',
    'With TLS 1.3 a server that refuses our client certificate says so after the handshake: the',
    "connection then ends with the server's alert (certificate required, unknown CA…).",
    ...shareNotes('a console server behind TLS.'),
    ...TEST_CA,
  ],
  options: connectOptions,
  parseTarget: (target, uri) => parseHostPort(target, uri, { listening: false }),
  validate(spec) {
    validateRetry(spec);
    const o = spec.options;
    if ((o.cert === undefined) !== (o.key === undefined))
      throw new UsageError(`${quoteUri(spec.uri)}: cert= and key= go together (a client certificate and its private key)`);
    if (o.verify === 'none' && o.ca !== undefined)
      throw new UsageError(`${quoteUri(spec.uri)}: option "ca" has no effect with verify=none (no certificate is checked)`);
  },
  waitsAtStart: (spec) => spec.options.share,
  open: (spec, ctx) => withConnectRetry(() => connectTls(spec, ctx), spec, ctx),
};

const listenOptions = defineOptions({
  cert: text(undefined, "the server's certificate (PEM, the chain after it); required", 'a file'),
  key: text(undefined, 'the private key (PEM) of cert=; required', 'a file'),
  'client-ca': text(
    undefined,
    'require a client certificate signed by this CA (PEM): its CN (or a SAN) names the peer in logs, the transcript and the index',
    'a file',
  ),
  users: text(
    undefined,
    'with client-ca=: a users file, NAME ROLE KEY per line (role full or view; KEY the certificate\'s SHA-256 fingerprint, or "cert" for any certificate of client-ca naming NAME); other certificates are refused; read again on SIGHUP, and peers no longer listed are closed',
    'a file',
  ),
  'min-version': minVersion,
  'handshake-timeout': duration(10_000, 'a peer must finish the TLS handshake within this long, or it is cut', 600_000),
  nodelay: flag(true, 'send small writes at once (TCP_NODELAY)'),
  telnet: flag(false, 'speak telnet to peers (telnet clients, RFC 2217 clients such as pyserial rfc2217:// through a TLS tunnel)'),
  max: int(0, 0, 1_000_000, 'most peers connected at once; more are closed at once, before their handshake, each refusal logged at -v (0: no limit)'),
  ...livenessOptions,
  ...doorOptions,
});

export const tlsListen: ListeningType<HostPort, typeof listenOptions> = {
  scheme: 'tls-listen',
  role: 'listening',
  summary: 'accept TLS peers (socat OPENSSL-LISTEN:); client certificates name them and give their role; a bare port binds 127.0.0.1 only',
  targetForm: '[host:]port',
  examples: [
    "ptybridge serial:/dev/ttyUSB0 'tls-listen:0.0.0.0:7001?telnet&cert=srv.pem&key=srv.key&client-ca=ca.pem'",
    "ptybridge exec:bash 'tls-listen:7002?cert=srv.pem&key=srv.key&client-ca=ca.pem&users=/etc/ptybridge/users'",
    'socat -,rawer OPENSSL:console.lab:7001,cert=alice.pem,key=alice.key,cafile=ca.pem   # a client',
  ],
  notes: [
    'A tls-listen needs cert= and key=. Without ?client-ca= anyone who reaches the port gets the',
    'route, encrypted. With it, a peer must present a certificate that CA signed, valid now; its CN',
    '(or first SAN) is its name. With ?users= as well, only the certificates listed get in, each with',
    'its role (view: watches, never types); a SIGHUP reads the file again and closes the peers no',
    'longer in it. A refused peer is closed before anything is sent; -v logs why (the verify code).',
    ...TEST_CA,
    'Users file: "alice full cert" (any certificate of client-ca naming alice), or "bob view" and the',
    'fingerprint that openssl x509 -in bob.pem -noout -fingerprint -sha256 prints.',
  ],
  options: listenOptions,
  parseTarget: (target, uri) => parseHostPort(target, uri, { listening: true }),
  validate(spec) {
    const o = spec.options;
    if (o.cert === undefined || o.key === undefined)
      throw new UsageError(`${quoteUri(spec.uri)}: a TLS server needs cert=FILE and key=FILE (PEM); --help tls-listen shows how to make test ones`);
    if (o.users !== undefined && o['client-ca'] === undefined)
      throw new UsageError(`${quoteUri(spec.uri)}: option "users" needs client-ca=FILE: the users are told apart by their client certificates`);
  },
  async listen(spec, onLink, ctx) {
    const { createServer } = await import('node:tls');
    const o = spec.options;
    const pem = await readPem(spec.uri, o, ['cert', 'key', 'client-ca'] as const);
    const clientCa = pem['client-ca'];
    let server: net.Server;
    try {
      server = createServer({
        cert: pem.cert,
        key: pem.key,
        minVersion: o['min-version'],
        handshakeTimeout: o['handshake-timeout'],
        allowHalfOpen: true,
        noDelay: o.nodelay,
        ...(clientCa ? askForCertificates(clientCa) : {}),
      });
    } catch (err) {
      throw new EndpointError(`${spec.uri}: cert=/key=`, err); // not PEM, or a key of another certificate
    }
    const users = o.users === undefined ? undefined : new UsersFile(o.users, ctx.log, spec.uri);
    const accounts = new Map<net.Socket, User>();
    if (users) {
      users.onReload = () => {
        for (const [socket, account] of accounts) {
          if (users.current(account)) continue;
          ctx.log.warn(
            `${spec.uri}: ${account.name} is no longer in ${users.file} as before (removed, or another role or certificate); closing their connection`,
          );
          socket.destroy();
        }
      };
    }
    limitPeers(server, o.max, spec.uri, 'tls', ctx);
    server.on('tlsClientError', (err: NodeJS.ErrnoException, socket: TLSSocket) => {
      const peer = peerLabel(socket);
      ctx.log.info(`${spec.uri}: refused ${peer}: ${describeTlsError(err)}`, { event: 'refused', peer, reason: err.code ?? err.message });
      // With a listener for this event Node leaves the socket open: a peer that never finishes
      // its handshake (or sends garbage) would hold it until it leaves.
      socket.destroy();
    });
    const admit = (link: ByteStream) => {
      const socket = link.stream as TLSSocket;
      let verdict: Verdict = { ok: true };
      if (clientCa) verdict = identify(socket, users);
      if (!verdict.ok) {
        ctx.log.info(`${spec.uri}: refused ${link.label}: ${verdict.why}`, { event: 'refused', peer: link.label, reason: verdict.why });
        socket.destroy();
        return;
      }
      if (verdict.account) {
        accounts.set(socket, verdict.account);
        socket.once('close', () => accounts.delete(socket));
      }
      applyLiveness(socket, o, ctx, link.label);
      const inner = o.telnet ? telnetServerLink(link, ctx.log) : link;
      onLink({ ...inner, ...(verdict.role ? { role: verdict.role } : {}), ...(verdict.user !== undefined ? { user: verdict.user } : {}) });
    };
    let listener: Listener;
    try {
      listener = await listenSocket(spec.uri, { host: spec.target.host, port: spec.target.port }, server, admit, labels, ctx, 'secureConnection');
    } catch (err) {
      users?.close();
      throw err;
    }
    if (spec.target.defaultedHost) {
      const bound = (server.address() as net.AddressInfo).port;
      ctx.log.warn(`${spec.uri}: bound to loopback only; write tls-listen:0.0.0.0:${bound} to accept other machines`);
    }
    if (!clientCa) ctx.log.info(`${spec.uri}: no ?client-ca=: peers are not asked who they are`);
    return {
      label: listener.label,
      close: async () => {
        users?.close();
        await listener.close();
      },
    };
  },
};

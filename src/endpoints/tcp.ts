// tcp: and tcp-listen: — TCP client and server, IPv4, IPv6 and host names.
import net from 'node:net';
import { flag, int, defineOptions } from '../options.js';
import { parseHostPort, type HostPort } from '../uri.js';
import { telnetClientLink, telnetServerLink } from '../protocols/telnet-link.js';
import { retryOptions, validateRetry, withConnectRetry } from './retry.js';
import { applyLiveness, connectSocket, ipLabels, limitPeers, listenSocket, livenessOptions, shareNotes, shareOptions } from './socket-link.js';
import type { ConnectingType, ListeningType } from '../core/endpoint.js';
import type { ByteStream } from '../core/link.js';
import { doorOptions } from './hub-options.js';

const labels = ipLabels('tcp');
const peerLabel = labels.peer;

const tcpOptions = defineOptions({
  nodelay: flag(true, 'send small writes at once (TCP_NODELAY); consoles want low latency'),
  telnet: flag(false, 'speak telnet to the server: NAWS for resizes, RFC 2217 for baud, DTR/RTS and BREAK'),
  ...livenessOptions,
  ...retryOptions,
  ...shareOptions,
});

export const tcp: ConnectingType<HostPort, typeof tcpOptions> = {
  scheme: 'tcp',
  role: 'connecting',
  sharing: 'per-peer',
  summary: 'connect to a TCP server (?share: a console port shared by every peer)',
  targetForm: 'host:port',
  examples: [
    'ptybridge stdio: tcp:localhost:23000',
    'ptybridge tcp-listen:6000 tcp:[::1]:5900?retry=5',
    'ptybridge tcp:127.0.0.1:4555?share ws-listen:8080   # qemu -serial tcp:127.0.0.1:4555,server=on,wait=off',
  ],
  notes: shareNotes('qemu -serial tcp:127.0.0.1:4555,server=on,wait=off.'),
  options: tcpOptions,
  parseTarget: (target, uri) => parseHostPort(target, uri, { listening: false }),
  validate: validateRetry,
  waitsAtStart: (spec) => spec.options.share,
  open: (spec, ctx) =>
    withConnectRetry(
      async () => {
        const link = await connectSocket(spec.uri, { host: spec.target.host, port: spec.target.port }, peerLabel);
        (link.stream as net.Socket).setNoDelay(spec.options.nodelay);
        applyLiveness(link.stream as net.Socket, spec.options, ctx, link.label);
        return spec.options.telnet ? telnetClientLink(link, ctx.log) : link;
      },
      spec,
      ctx,
    ),
};

const tcpListenOptions = defineOptions({
  nodelay: flag(true, 'send small writes at once (TCP_NODELAY)'),
  telnet: flag(false, 'speak telnet to peers (telnet clients, RFC 2217 clients such as pyserial rfc2217://)'),
  max: int(0, 0, 1_000_000, 'most peers connected at once; more are closed at once, each refusal logged at -v (0: no limit)'),
  ...livenessOptions,
  ...doorOptions,
});

export const tcpListen: ListeningType<HostPort, typeof tcpListenOptions> = {
  scheme: 'tcp-listen',
  role: 'listening',
  summary: 'accept TCP peers; a bare port binds 127.0.0.1 only',
  targetForm: '[host:]port',
  examples: [
    'ptybridge pty:/dev/pts/4 tcp-listen:23000',
    'ptybridge serial:/dev/ttyUSB0 tcp-listen:2217?telnet   # RFC 2217 for pyserial',
    'ptybridge serial:/dev/ttyUSB0 tcp-listen:0.0.0.0:23000?max=4',
  ],
  options: tcpListenOptions,
  parseTarget: (target, uri) => parseHostPort(target, uri, { listening: true }),
  async listen(spec, onLink, ctx) {
    const { host, port, defaultedHost } = spec.target;
    const server = net.createServer({ allowHalfOpen: true, noDelay: spec.options.nodelay, pauseOnConnect: false });
    limitPeers(server, spec.options.max, spec.uri, 'tcp', ctx);
    const withLiveness = (link: ByteStream) => {
      applyLiveness(link.stream as net.Socket, spec.options, ctx, link.label);
      onLink(spec.options.telnet ? telnetServerLink(link, ctx.log) : link);
    };
    const listener = await listenSocket(spec.uri, { host, port }, server, withLiveness, labels, ctx);
    if (defaultedHost) {
      const bound = (server.address() as net.AddressInfo).port;
      ctx.log.warn(`${spec.uri}: bound to loopback only; write tcp-listen:0.0.0.0:${bound} to accept other machines`, { event: 'loopback-only', port: bound });
    }
    return listener;
  },
};

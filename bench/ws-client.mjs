// Shared by the bench scripts: a WebSocket client on a raw socket that costs the machine as little as possible.
// It parses frame headers only (never assembles messages), so that a sink sharing the cores
// with the forwarder it measures does not become the bottleneck itself.
import { randomBytes } from 'node:crypto';
import net from 'node:net';

/** Counts payload bytes of unmasked server frames (binary, text, continuation) as they stream in. */
export function frameCounter(onBytes, onFrame = () => {}) {
  let need = 0; // bytes left in the current frame's payload
  let counted = true;
  let head = [];
  return (chunk) => {
    let i = 0;
    while (i < chunk.length) {
      if (need > 0) {
        const take = Math.min(need, chunk.length - i);
        need -= take;
        i += take;
        if (counted) onBytes(take);
        continue;
      }
      head.push(chunk[i++]);
      if (head.length < 2) continue;
      const len7 = head[1] & 127;
      if (head.length < (len7 < 126 ? 2 : len7 === 126 ? 4 : 10)) continue;
      need = len7 < 126 ? len7 : head.slice(2).reduce((a, b) => a * 256 + b, 0);
      counted = (head[0] & 15) <= 2;
      if (counted) onFrame();
      head = [];
    }
  };
}

/** Opens a WebSocket (subprotocol binary) on a raw socket; resolves with it paused, and any bytes after the handshake in `rest`. */
export function connectWs(url) {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const s = net.connect(Number(u.port), u.hostname, () => {
      s.write(
        `GET ${u.pathname}${u.search} HTTP/1.1\r\nHost: ${u.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: binary\r\n\r\n`,
      );
    });
    let got = Buffer.alloc(0);
    const onData = (d) => {
      got = Buffer.concat([got, d]);
      const end = got.indexOf('\r\n\r\n');
      if (end < 0) return;
      s.off('data', onData);
      if (!/^HTTP\/1\.1 101/.test(got.toString('latin1'))) return reject(new Error(got.toString('latin1', 0, end)));
      s.pause();
      resolve({ socket: s, rest: got.subarray(end + 4) });
    };
    s.on('data', onData);
    s.once('error', reject);
  });
}

// Shared by the forwarding benches (tcp, tls, pty-ws): start ptybridge or socat as a forwarder on a loopback port, and wait for a port to listen without taking its one connection.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { freePort } from '../proc.mjs';

export const PTYBRIDGE = fileURLToPath(new URL('../../dist/ptybridge.mjs', import.meta.url));

/** Waits until 127.0.0.1:port is in LISTEN state, read from /proc/net/tcp: connecting would make socat (no fork) take it as its one client. */
export async function waitListening(port) {
  const want = `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  for (let i = 0; i < 400; i++) {
    const rows = readFileSync('/proc/net/tcp', 'utf8')
      .split('\n')
      .map((l) => l.trim().split(/\s+/));
    if (rows.some((f) => f[1] === want && f[3] === '0A')) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`nothing listens on 127.0.0.1:${port}`);
}

/**
 * Starts a forwarder and resolves with its pid, its port and stop().
 * ptybridge: `ptybridge(port0Listener)`'s argv, its port read from the `listening on SCHEME 127.0.0.1:N` line.
 * `command` runs another ptybridge in its place (argv before the addresses: an older build, the single binary).
 * socat: `socat(port)`'s argv for a free port it is given (socat cannot report a port 0).
 */
export async function startForwarder(kind, { ptybridge, listening, socat, command = [process.execPath, PTYBRIDGE] }) {
  let proc;
  let port;
  if (kind.startsWith('ptybridge')) {
    proc = spawn(command[0], [...command.slice(1), ...ptybridge], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    port = await new Promise((resolve, reject) => {
      proc.stderr.on('data', (t) => {
        err += t;
        const m = new RegExp(`listening on ${listening} 127\\.0\\.0\\.1:(\\d+)`).exec(err);
        if (m) resolve(Number(m[1]));
      });
      proc.once('exit', () => reject(new Error(`ptybridge exited: ${err}`)));
    });
  } else {
    port = await freePort();
    proc = spawn('socat', socat(port), { stdio: 'ignore' });
    await waitListening(port);
  }
  return {
    pid: proc.pid,
    port,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGTERM');
        await once(proc, 'exit');
      }
    },
  };
}

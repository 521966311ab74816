// Test helpers for TLS: a throwaway CA and certificates made by /usr/bin/openssl in a temp dir (good, expired, from another CA).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Paths of one certificate and its key. */
export interface Pair {
  cert: string;
  key: string;
}

export interface Pki {
  dir: string;
  /** The lab CA every good certificate is signed by. */
  ca: string;
  /** A CA nobody trusts: its certificates are "wrong CA". */
  otherCa: string;
  /** CN=localhost, SAN DNS:localhost and IP:127.0.0.1, signed by `ca`. */
  server: Pair;
  /** The same names, expired yesterday. */
  serverExpired: Pair;
  /** Client certificates signed by `ca`: alice, bob and carol. */
  alice: Pair;
  bob: Pair;
  carol: Pair;
  /** CN=old, signed by `ca`, expired. */
  expired: Pair;
  /** CN=mallory, signed by `otherCa`. */
  mallory: Pair;
  /** The SHA-256 fingerprint of a certificate as openssl prints it (AB:CD:…). */
  fingerprint(cert: string): string;
  remove(): void;
}

const openssl = (args: string[], cwd: string) => execFileSync('/usr/bin/openssl', args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] }).toString();
const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];

/** Makes the CAs and certificates (EC P-256: a few ms each). `-days -1` gives one that expired a day ago. */
export function makePki(): Pki {
  const dir = mkdtempSync(join(tmpdir(), 'ptyb-pki-'));
  const p = (name: string) => join(dir, name);
  for (const ca of ['ca', 'other-ca']) openssl(['req', '-x509', ...EC, '-days', '2', '-subj', `/CN=${ca}`, '-keyout', `${ca}.key`, '-out', `${ca}.pem`], dir);
  const leaf = (name: string, cn: string, ca: string, days: string, san?: string): Pair => {
    openssl(['req', '-new', ...EC, '-subj', `/CN=${cn}`, '-keyout', `${name}.key`, '-out', `${name}.csr`], dir);
    const ext = san === undefined ? [] : (writeFileSync(p(`${name}.ext`), `subjectAltName=${san}\n`), ['-extfile', `${name}.ext`]);
    openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.pem`, '-CAkey', `${ca}.key`, '-days', days, ...ext, '-out', `${name}.pem`], dir);
    return { cert: p(`${name}.pem`), key: p(`${name}.key`) };
  };
  const names = 'DNS:localhost,IP:127.0.0.1';
  return {
    dir,
    ca: p('ca.pem'),
    otherCa: p('other-ca.pem'),
    server: leaf('server', 'localhost', 'ca', '2', names),
    serverExpired: leaf('server-expired', 'localhost', 'ca', '-1', names),
    alice: leaf('alice', 'alice', 'ca', '2'),
    bob: leaf('bob', 'bob', 'ca', '2'),
    carol: leaf('carol', 'carol', 'ca', '2'),
    expired: leaf('old', 'old', 'ca', '-1'),
    mallory: leaf('mallory', 'mallory', 'other-ca', '2'),
    fingerprint: (cert) => openssl(['x509', '-in', cert, '-noout', '-fingerprint', '-sha256'], dir).trim().replace(/^.*=/, ''),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

// Client certificates as credentials (tls-listen:, ws-listen: with ?client-ca=): the peer's name from the certificate, its role from the users file.
import type { PeerCertificate, TLSSocket } from 'node:tls';
import type { Role } from '../core/roles.js';
import type { User, UsersFile } from './users.js';

/** What OpenSSL's verify codes mean, for a refused client certificate (Node gives the code alone there). */
const VERIFY_TEXT: Record<string, string> = {
  CERT_HAS_EXPIRED: 'certificate has expired',
  CERT_NOT_YET_VALID: 'certificate is not yet valid',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'not signed by a CA of client-ca',
  UNABLE_TO_GET_ISSUER_CERT: 'not signed by a CA of client-ca',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'not signed by a CA of client-ca',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'self-signed, not signed by a CA of client-ca',
  SELF_SIGNED_CERT_IN_CHAIN: 'its chain ends in a CA not in client-ca',
  CERT_SIGNATURE_FAILURE: 'bad signature',
  CERT_REVOKED: 'certificate revoked',
  INVALID_PURPOSE: 'not a certificate for TLS clients',
};
const describeVerify = (code: string) => `${code} (${VERIFY_TEXT[code] ?? 'certificate refused'})`;

/** A certificate's subject for a log line: `CN=alice`, or its SANs. */
const subjectOf = (c: PeerCertificate) => (c.subject?.CN ? `CN=${[c.subject.CN].flat()[0]}` : (c.subjectaltname ?? 'no subject'));

/** The names a client certificate gives its holder: the CN, then DNS, email and URI SANs. */
function namesOf(c: PeerCertificate): string[] {
  const cn = c.subject?.CN === undefined ? [] : [c.subject.CN].flat();
  const sans = (c.subjectaltname ?? '').split(/,\s*/).flatMap((s) => /^(?:DNS|email|URI):(.+)$/.exec(s)?.[1] ?? []);
  return [...cn, ...sans];
}

/** A name as logs and the index show it: the user names' characters, at most 64. */
const printable = (name: string) => name.replace(/[^\w.@+-]/g, '_').slice(0, 64);

/** Let in (with a name, and with a users file the entry and its role), or refused and why. */
export type Verdict = { ok: true; user?: string; account?: User; role?: Role } | { ok: false; why: string };

/** Who a TLS peer is, from its client certificate (checked against ?client-ca=, then ?users=). */
export function identify(socket: TLSSocket, users: UsersFile | undefined): Verdict {
  const cert = socket.getPeerCertificate();
  if (!cert || Object.keys(cert).length === 0) return { ok: false, why: 'no client certificate (?client-ca= requires one)' };
  if (!socket.authorized) return { ok: false, why: `client certificate ${subjectOf(cert)} refused: ${describeVerify(String(socket.authorizationError))}` };
  const names = namesOf(cert);
  if (!users) return { ok: true, ...(names[0] !== undefined ? { user: printable(names[0]) } : {}) };
  const account = users.matchCertificate(Buffer.from(cert.fingerprint256.replaceAll(':', ''), 'hex'), names);
  if (!account) return { ok: false, why: `client certificate ${subjectOf(cert)} (sha256 ${cert.fingerprint256}) is not in ${users.file}` };
  return { ok: true, user: account.name, account, role: account.role };
}

/**
 * A TLS server's options for `?client-ca=`: ask every peer for a certificate and keep the
 * check for `identify`, so that a refusal is logged with its reason (with rejectUnauthorized
 * Node drops the peer without a word).
 */
export const askForCertificates = (ca: Buffer) => ({ ca, requestCert: true, rejectUnauthorized: false }) as const;

// A certificate's validity as the data path and the CA use it: notAfter read once as milliseconds, and the one check
// of whether a peer's certificate has expired by now (a resumed TLS session and a tunnel stream skip the chain check).
import type { X509Certificate } from 'node:crypto';

/** The notAfter of a certificate, in ms since the epoch. */
export function certNotAfterMs(cert: X509Certificate): number {
  return Date.parse(cert.validTo);
}

/** Whether a certificate valid until `notAfterMs` has expired at `nowMs` (notAfter itself is past it). Pure. */
export function certExpired(notAfterMs: number, nowMs: number): boolean {
  return nowMs >= notAfterMs;
}

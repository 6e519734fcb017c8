// Which roots may follow the roots trusted now: the one rule that both the sidecars (a bundle pushed by the CA,
// identity/trust-bundle.ts) and the CA (bundle.pem as it changes, ca/root/trust-bundle.ts) apply. Pure.
//
// Invariants: a root already trusted is never re-judged; a root not trusted now joins only when a cross-certificate
// signed by a root trusted now certifies its key and subject (so whoever can write the bundle, but holds no root key,
// cannot add a root); and at least one root trusted now stays, so roots leave one at a time.
import type { X509Certificate } from 'node:crypto';
import { isSelfSignedCa, vouchesFor } from './cross-cert.js';
import { certFingerprint } from './fingerprint.js';

/** Why a set of roots may not follow the roots trusted now. */
export interface SuccessionRefusal {
  code: 'drops_trusted_roots' | 'unvouched_root';
  /** One sentence naming the root(s), for a log line or an error. */
  detail: string;
}

/** Names a root in a message: the start of its SHA-256 and its subject. */
export function describeRoot(r: X509Certificate): string {
  return `${certFingerprint(r.raw).slice(0, 16)}… (${(r.subject ?? '').replace(/\n/g, ', ') || 'no subject'})`;
}

/**
 * Whether `roots` (with the cross-certificates sent alongside) may replace `trusted`: undefined when they may,
 * otherwise the first reason they may not. `nowMs` is when the cross-certificates must be valid.
 */
export function judgeRootSuccession(
  trusted: readonly X509Certificate[], roots: readonly X509Certificate[], cross: readonly X509Certificate[], nowMs: number,
): SuccessionRefusal | undefined {
  const trustedNow = (r: X509Certificate) => trusted.some((t) => t.raw.equals(r.raw));
  if (!roots.some(trustedNow)) {
    return { code: 'drops_trusted_roots', detail: `none of the ${trusted.length} root(s) trusted now is in it: ${trusted.map(describeRoot).join(', ')}` };
  }
  for (const root of roots.filter((r) => !trustedNow(r))) {
    if (!isSelfSignedCa(root)) return { code: 'unvouched_root', detail: `new root ${describeRoot(root)} is not a self-signed CA certificate` };
    if (!cross.some((c) => trusted.some((t) => vouchesFor(c, root, t, nowMs)))) {
      return { code: 'unvouched_root', detail: `new root ${describeRoot(root)} comes without a valid cross-certificate from a root trusted now` };
    }
  }
  return undefined;
}

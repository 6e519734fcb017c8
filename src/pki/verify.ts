// Verifies a certificate chain against a set of trusted roots and extracts the SPIFFE ID.
// Used by the CA for renewals; the data path relies on TLS itself plus checkLeafSvid().
import { X509Certificate } from 'node:crypto';
import { PkiError } from '../common/errors.js';
import { assertLeafSvid } from './leaf-svid.js';
import { certNotAfterMs } from './validity.js';

/** Longest chain accepted: leaf + intermediates + root. */
export const MAX_CHAIN_DEPTH = 5;

export interface VerifiedChain {
  spiffeId: string;
  leaf: X509Certificate;
}

function checkValidity(cert: X509Certificate, nowMs: number, what: string): void {
  if (nowMs < Date.parse(cert.validFrom)) throw new PkiError('cert_not_yet_valid', `${what} is not valid yet`);
  const notAfterMs = certNotAfterMs(cert);
  if (nowMs > notAfterMs) throw new PkiError('cert_expired', `${what} expired at ${new Date(notAfterMs).toISOString()}`);
}

/**
 * Verifies `chain` (leaf first, then intermediates) up to one of `roots` at time `nowMs`.
 * Throws PkiError: `untrusted_chain`, `cert_expired`, `cert_not_yet_valid`, or a leaf rule's code from
 * checkLeafSvid() (`not_a_leaf`, `no_spiffe_id`, `invalid_spiffe_id`, `bad_key_usage`).
 */
export function verifySvidChain(chain: readonly (Buffer | X509Certificate)[], roots: readonly X509Certificate[], nowMs: number): VerifiedChain {
  if (chain.length === 0) throw new PkiError('no_certificate', 'no certificate presented');
  const certs = chain.map((c) => (c instanceof X509Certificate ? c : new X509Certificate(c)));
  const leaf = certs[0]!;
  const spiffeId = assertLeafSvid(leaf);
  checkValidity(leaf, nowMs, 'certificate');
  assertChainsToRoot(leaf, certs.slice(1), roots, nowMs);
  return { spiffeId, leaf };
}

/**
 * Checks that `cert` (already checked itself) is signed by one of `roots`, directly or through CA certificates of
 * `pool`, each valid at `nowMs`. Throws PkiError `untrusted_chain`, `cert_expired` or `cert_not_yet_valid`.
 */
export function assertChainsToRoot(cert: X509Certificate, pool: readonly X509Certificate[], roots: readonly X509Certificate[], nowMs: number): void {
  let current = cert;
  for (let depth = 0; depth < MAX_CHAIN_DEPTH; depth++) {
    const root = roots.find((r) => current.checkIssued(r) && current.verify(r.publicKey));
    if (root) {
      checkValidity(root, nowMs, 'root certificate');
      return;
    }
    const next = pool.find((c) => c.ca && current.checkIssued(c) && current.verify(c.publicKey));
    if (!next) break;
    checkValidity(next, nowMs, 'intermediate certificate');
    current = next;
  }
  throw new PkiError('untrusted_chain', 'certificate does not chain to the trust bundle');
}

/** Checks a CA certificate (the CA's signing certificate) and its chain up to one of `roots` at `nowMs`; PkiError as above, or `not_a_ca`. */
export function verifyCaChain(chain: readonly X509Certificate[], roots: readonly X509Certificate[], nowMs: number): X509Certificate {
  const ca = chain[0];
  if (!ca) throw new PkiError('no_certificate', 'no certificate presented');
  if (!ca.ca) throw new PkiError('not_a_ca', 'the signing certificate is not a CA certificate');
  checkValidity(ca, nowMs, 'signing certificate');
  assertChainsToRoot(ca, chain.slice(1), roots, nowMs);
  return ca;
}

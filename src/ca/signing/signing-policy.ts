// The signing policy as pure functions: TTL clamp and CSR → SVID for one attested identity.
// Runs on the main thread or in a signing worker; it needs nothing but the issuer material.
import { PolicyError } from '../../common/errors.js';
import { parseAndVerifyCsr } from '../../pki/csr.js';
import { issueSvid } from '../../pki/svid.js';
import type { IssuerMaterial } from '../../pki/certificate.js';

/** The TTL bounds of `ca serve`. */
export interface TtlPolicy {
  defaultTtlMs: number;
  minTtlMs: number;
  maxTtlMs: number;
}

/** The TTL to issue for a request: 0 means the default; anything else is clamped to [min, max]. */
export function clampTtl(requestedSeconds: number, policy: TtlPolicy): number {
  if (!Number.isFinite(requestedSeconds) || requestedSeconds <= 0) return policy.defaultTtlMs;
  return Math.min(policy.maxTtlMs, Math.max(policy.minTtlMs, requestedSeconds * 1000));
}

/** One signature to make. */
export interface SignJob {
  /** PKCS#10 DER exactly as the caller sent it. */
  csr: Buffer;
  /** The attested ID: the leaf's only URI SAN. */
  spiffeId: string;
  /** DNS SANs the attestor allows; the CSR's DNS names are kept only when listed here. */
  allowedDnsNames: readonly string[];
  ttlMs: number;
  nowMs: number;
}

/** A signed leaf. */
export interface SignResult {
  der: Buffer;
  serialHex: string;
  notBeforeMs: number;
  notAfterMs: number;
  keyType: string;
}

/**
 * Verifies the CSR and signs it for the attested ID. The CA sets the SAN itself; a CSR asking for any other
 * URI SAN is refused. Throws PkiError (`malformed_csr`, `bad_csr_signature`, `weak_key`) or PolicyError `identity_mismatch`.
 */
export function signCsr(job: SignJob, issuer: IssuerMaterial): SignResult {
  const csr = parseAndVerifyCsr(job.csr);
  const other = csr.uris.find((u) => u !== job.spiffeId);
  if (other !== undefined) {
    throw new PolicyError('identity_mismatch', `CSR asks for ${other.slice(0, 200)} but the caller was attested as ${job.spiffeId}`);
  }
  const dnsNames = csr.dnsNames.filter((d) => job.allowedDnsNames.includes(d));
  const issued = issueSvid(
    { spki: csr.spki, spiffeId: job.spiffeId, dnsNames, nowMs: job.nowMs, ttlMs: job.ttlMs, rsa: csr.keyType.startsWith('rsa') },
    issuer,
  );
  return { ...issued, keyType: csr.keyType };
}

// Renewal attestor: the caller's current SVID, presented as its TLS client certificate.
// The chain must lead to the trust bundle in force *now* (not the one at startup) and be valid at clock time; every
// root of that bundle is the CA's own or vouched for by cross-certificate (root/trust-bundle.ts keeps it so).
import type { X509Certificate } from 'node:crypto';
import type { Clock } from '../../common/clock.js';
import { AttestationError, PkiError } from '../../common/errors.js';
import { parseSpiffeId } from '../../pki/spiffe-id.js';
import { verifySvidChain } from '../../pki/verify.js';
import type { Attestation, AttestationInput, Attestor } from './attestor.js';
import { certNotAfterMs } from '../../pki/validity.js';

/** The stable code for an OpenSSL verification error of a renewal certificate. */
export function renewalCode(opensslError: string): string {
  if (opensslError === 'CERT_HAS_EXPIRED') return 'renewal_cert_expired';
  if (opensslError === 'CERT_NOT_YET_VALID') return 'renewal_cert_not_yet_valid';
  return 'renewal_untrusted_chain';
}

/** Renews an SVID for the same ID it already holds. */
export class RenewalAttestor implements Attestor {
  readonly name = 'renewal';

  /**
   * @param roots current trust bundle roots, read on every call
   * @param intermediates the CA's own intermediates in force (plug-in CA), so a leaf alone still chains to a root
   */
  constructor(
    private readonly roots: () => readonly X509Certificate[],
    private readonly intermediates: () => readonly X509Certificate[],
    private readonly trustDomain: string,
    private readonly clock: Clock,
  ) {}

  /** Verified leaves (one object per TLS connection) → result, valid while the bundle is the same and the leaf is in date. */
  private readonly verified = new WeakMap<X509Certificate, { roots: readonly X509Certificate[]; spiffeId: string; fromMs: number; toMs: number }>();

  async attest(input: AttestationInput): Promise<Attestation | undefined> {
    if (!input.peerChain || input.peerChain.length === 0) {
      if (input.peerCertError === undefined) return undefined;
      throw new AttestationError(renewalCode(input.peerCertError), `client certificate refused by TLS: ${input.peerCertError}`);
    }
    const roots = this.roots();
    const now = this.clock.now();
    const leaf = input.peerChain[0]!;
    const hit = this.verified.get(leaf);
    if (hit && hit.roots === roots && now >= hit.fromMs && now <= hit.toMs) return { spiffeId: hit.spiffeId, method: this.name };
    let spiffeId: string;
    try {
      ({ spiffeId } = verifySvidChain([...input.peerChain, ...this.intermediates()], roots, now));
    } catch (e) {
      if (e instanceof PkiError) throw new AttestationError(`renewal_${e.code}`, `client certificate refused: ${e.message}`, { cause: e });
      throw e;
    }
    if (parseSpiffeId(spiffeId).trustDomain !== this.trustDomain) {
      throw new AttestationError('foreign_trust_domain', `client certificate names ${spiffeId}, outside trust domain ${this.trustDomain}`);
    }
    this.verified.set(leaf, { roots, spiffeId, fromMs: Date.parse(leaf.validFrom), toMs: certNotAfterMs(leaf) });
    return { spiffeId, method: this.name };
  }
}

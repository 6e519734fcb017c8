// Cross-certificates: a root's key certified by another root, so that whoever trusts the old root can check the new.
// A trust bundle carries them for roots its receivers may not trust yet (docs/ca.md "Root rotation").
import { X509Certificate } from 'node:crypto';
import { newSerial, signCertificate, type IssuerMaterial } from './certificate.js';
import { tbsPieces } from './issuer.js';
import { trustDomainId } from './spiffe-id.js';
import { certNotAfterMs } from './validity.js';

/**
 * Certifies `rootDer`'s key and subject with `issuer` (another root): a CA certificate with the new root's subject,
 * key and key identifier, valid while both roots are. Chains that end at the new root's name then also reach `issuer`.
 */
export function createCrossCertificate(opts: { rootDer: Buffer; issuer: IssuerMaterial; trustDomain: string; nowMs: number }): Buffer {
  const root = new X509Certificate(opts.rootDer);
  const { subjectDer } = tbsPieces(opts.rootDer);
  return signCertificate(
    {
      serial: newSerial(), notBeforeMs: opts.nowMs - 60_000,
      notAfterMs: Math.min(opts.issuer.notAfterMs, certNotAfterMs(root)),
      subjectDer, spki: root.publicKey.export({ format: 'der', type: 'spki' }),
      uris: [trustDomainId(opts.trustDomain)], dnsNames: [], isCa: true,
    },
    opts.issuer,
  );
}

/** A self-signed CA certificate (a root), whose signature checks out with its own key. */
export function isSelfSignedCa(cert: X509Certificate): boolean {
  return cert.ca && cert.checkIssued(cert) && cert.verify(cert.publicKey);
}

/**
 * Whether `cross` vouches for `root` on behalf of `trusted`: a CA certificate for the same key and subject as `root`,
 * issued and signed by `trusted`, and valid at `nowMs`. Pure.
 */
export function vouchesFor(cross: X509Certificate, root: X509Certificate, trusted: X509Certificate, nowMs: number): boolean {
  return cross.ca
    && cross.publicKey.equals(root.publicKey)
    && cross.subject === root.subject
    && nowMs >= Date.parse(cross.validFrom) && nowMs <= certNotAfterMs(cross)
    && cross.checkIssued(trusted) && cross.verify(trusted.publicKey);
}

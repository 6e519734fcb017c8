// Issuance of SPIFFE X.509-SVIDs with the leaf profile of docs/design.md "Identities". Pure apart from randomness.
import { PkiError } from '../common/errors.js';
import { EMPTY_NAME, newSerial, signCertificate, type IssuerMaterial } from './certificate.js';

/** notBefore is backdated this much for clock skew between nodes. */
export const NOT_BEFORE_BACKDATE_MS = 60_000;

export interface SvidRequest {
  /** SubjectPublicKeyInfo DER from the verified CSR. */
  spki: Buffer;
  /** The attested SPIFFE ID; the only URI SAN the leaf will carry. */
  spiffeId: string;
  dnsNames?: readonly string[];
  nowMs: number;
  ttlMs: number;
  rsa?: boolean;
}

export interface IssuedSvid {
  der: Buffer;
  serialHex: string;
  notBeforeMs: number;
  notAfterMs: number;
}

/** Signs a leaf SVID. notAfter is clamped to the issuer's notAfter. */
export function issueSvid(req: SvidRequest, issuer: IssuerMaterial): IssuedSvid {
  const notBeforeMs = Math.floor((req.nowMs - NOT_BEFORE_BACKDATE_MS) / 1000) * 1000;
  const notAfterMs = Math.floor(Math.min(req.nowMs + req.ttlMs, issuer.notAfterMs) / 1000) * 1000;
  if (notAfterMs <= req.nowMs) throw new PkiError('issuer_expired', 'the signing CA certificate has expired');
  const serial = newSerial();
  const der = signCertificate(
    {
      serial, notBeforeMs, notAfterMs, subjectDer: EMPTY_NAME, spki: req.spki,
      uris: [req.spiffeId], dnsNames: req.dnsNames ?? [], isCa: false, rsa: req.rsa ?? false,
    },
    issuer,
  );
  return { der, serialHex: serial.toString('hex'), notBeforeMs, notAfterMs };
}

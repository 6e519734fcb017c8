// JWT authorities (the ES256 keys that sign JWT-SVIDs) as the CA vouches for them: the statement its X.509 signing
// key signs, and the check a receiver makes before trusting one (docs/workload-api.md "JWT authorities"). Pure.
import { createPublicKey, sign, verify, type KeyObject, type X509Certificate } from 'node:crypto';
import { PkiError } from '../common/errors.js';
import { verifyCaChain } from './verify.js';

/** One JWT authority as the trust bundle carries it. */
export interface JwtAuthority {
  /** The JWK "kid" that JWT-SVIDs name in their header. */
  keyId: string;
  /** SubjectPublicKeyInfo DER of the P-256 public key. */
  publicKeySpki: Buffer;
  /** No token this key signs outlives this instant (ms since the epoch, whole seconds). */
  notAfterMs: number;
  /** By the CA's X.509 signing key over authorityStatement(). */
  signature: Buffer;
  /** DER: the CA's signing certificate, then its intermediates (roots left out). */
  signerChainDer: Buffer[];
}

/** What a receiver needs of an authority once it is trusted. */
export type JwtAuthorityFacts = Pick<JwtAuthority, 'keyId' | 'publicKeySpki' | 'notAfterMs'>;

const LABEL = Buffer.from('ztmesh jwt-svid authority v1\0');

function field(b: Buffer | string): Buffer {
  const data = typeof b === 'string' ? Buffer.from(b, 'utf8') : b;
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  return Buffer.concat([len, data]);
}

/** The bytes the CA signs: a fixed label, then the trust domain, kid, notAfter (seconds) and key, each length-prefixed. */
export function authorityStatement(trustDomain: string, a: JwtAuthorityFacts): Buffer {
  const notAfter = Buffer.alloc(8);
  notAfter.writeBigUInt64BE(BigInt(Math.floor(a.notAfterMs / 1000)));
  return Buffer.concat([LABEL, field(trustDomain), field(a.keyId), field(notAfter), field(a.publicKeySpki)]);
}

/** Signs an authority with the CA's X.509 signing key (EC or RSA, SHA-256). */
export function signAuthority(trustDomain: string, a: JwtAuthorityFacts, caKey: KeyObject): Buffer {
  return sign('sha256', authorityStatement(trustDomain, a), caKey);
}

/**
 * Checks that `a` was signed by a CA certificate chaining to one of `roots` at `nowMs`, is not past its notAfter and
 * holds a P-256 key. Throws PkiError: `jwt_authority_expired`, `jwt_authority_bad_key`, `jwt_authority_bad_signature`,
 * or the chain's own code (`untrusted_chain`, `not_a_ca`, `cert_expired`, …).
 */
export function verifyAuthority(trustDomain: string, a: JwtAuthority, signerChain: readonly X509Certificate[], roots: readonly X509Certificate[], nowMs: number): void {
  if (nowMs >= a.notAfterMs) throw new PkiError('jwt_authority_expired', `JWT authority ${a.keyId} expired at ${new Date(a.notAfterMs).toISOString()}`);
  let key: KeyObject;
  try {
    key = createPublicKey({ key: a.publicKeySpki, format: 'der', type: 'spki' });
  } catch (e) {
    throw new PkiError('jwt_authority_bad_key', `JWT authority ${a.keyId}: the key cannot be read`, { cause: e });
  }
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw new PkiError('jwt_authority_bad_key', `JWT authority ${a.keyId}: not a P-256 key`);
  }
  const signer = verifyCaChain(signerChain, roots, nowMs);
  if (!verify('sha256', authorityStatement(trustDomain, a), signer.publicKey, a.signature)) {
    throw new PkiError('jwt_authority_bad_signature', `JWT authority ${a.keyId}: the CA's signature does not verify`);
  }
}

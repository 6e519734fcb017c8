// The ES256 keys that sign JWT-SVIDs: one per period, derived from the CA's X.509 signing key (HKDF), so that every
// replica signs and publishes the same keys without writing anything, and the next key is known before it is used.
//
// Invariants: the key of period p signs only during [p·P, (p+1)·P); it is published from (p-1)·P (before use) until
// its notAfter, (p+1)·P + maxTtl, which no token it signed outlives. The derivation is a pure function of the signing
// key, the trust domain and p; a new signing key (`ztmesh ca root activate`) means new keys from then on.
import { createECDH, createHash, createPrivateKey, createPublicKey, hkdfSync, type KeyObject } from 'node:crypto';

/** P-256's group order n. */
const P256_ORDER = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
const HKDF_SALT = 'ztmesh jwt-svid signing key v1';

/** One period's key pair, with its kid and public key as the bundle carries them. */
export interface JwtKey {
  period: number;
  keyId: string;
  privateKey: KeyObject;
  publicKeySpki: Buffer;
  /** Start of signing ((p)·P) and the authority's notAfter ((p+1)·P + maxTtl), in ms. */
  signFromMs: number;
  notAfterMs: number;
}

/** When keys change: the period, and the longest JWT-SVID lifetime (how long a key stays published after use). */
export interface JwtKeySchedule {
  periodMs: number;
  maxTtlMs: number;
}

/** The period in force at `nowMs`. Pure. */
export function periodAt(nowMs: number, s: JwtKeySchedule): number {
  return Math.floor(nowMs / s.periodMs);
}

/** notAfter of period p's key: the end of its signing period plus the longest token lifetime. Pure. */
export function keyNotAfterMs(period: number, s: JwtKeySchedule): number {
  return (period + 1) * s.periodMs + s.maxTtlMs;
}

/**
 * The periods whose keys are published at `nowMs`, oldest first: every earlier period whose tokens may still be valid,
 * the current one, and the next (published one period before use). Pure.
 */
export function publishedPeriods(nowMs: number, s: JwtKeySchedule): number[] {
  const current = periodAt(nowMs, s);
  const out: number[] = [];
  for (let p = current - 1; p >= 0 && keyNotAfterMs(p, s) > nowMs; p--) out.unshift(p);
  out.push(current, current + 1);
  return out;
}

/** The next instant at which publishedPeriods() changes (a period starts or an old key's notAfter passes). Pure. */
export function nextChangeMs(nowMs: number, s: JwtKeySchedule): number {
  const nextPeriod = (periodAt(nowMs, s) + 1) * s.periodMs;
  const expiries = publishedPeriods(nowMs, s).map((p) => keyNotAfterMs(p, s)).filter((t) => t > nowMs);
  return Math.min(nextPeriod, ...expiries);
}

/** base64url without padding. */
const b64u = (b: Buffer) => b.toString('base64url');

/** RFC 7638 thumbprint of an EC public JWK: the kid, so that a key names itself the same way everywhere. */
function thumbprint(x: string, y: string): string {
  return createHash('sha256').update(JSON.stringify({ crv: 'P-256', kty: 'EC', x, y })).digest('base64url');
}

/**
 * Derives period p's ES256 key from the CA's signing key: HKDF-SHA256 over its PKCS#8 DER (salt fixed, info = trust
 * domain and period), 48 bytes reduced into [1, n-1] so the scalar is uniform, then the public point by ECDH. Pure.
 */
export function deriveJwtKey(caKey: KeyObject, trustDomain: string, period: number, s: JwtKeySchedule): JwtKey {
  const ikm = caKey.export({ format: 'der', type: 'pkcs8' });
  const okm = Buffer.from(hkdfSync('sha256', ikm, HKDF_SALT, `${trustDomain}\0${period}`, 48));
  const scalar = (BigInt(`0x${okm.toString('hex')}`) % (P256_ORDER - 1n)) + 1n;
  const d = Buffer.from(scalar.toString(16).padStart(64, '0'), 'hex');
  const ecdh = createECDH('prime256v1');
  ecdh.setPrivateKey(d);
  const point = ecdh.getPublicKey();
  const x = b64u(point.subarray(1, 33));
  const y = b64u(point.subarray(33, 65));
  const privateKey = createPrivateKey({ key: { kty: 'EC', crv: 'P-256', x, y, d: b64u(d) }, format: 'jwk' });
  return {
    period, keyId: thumbprint(x, y), privateKey,
    publicKeySpki: createPublicKey(privateKey).export({ format: 'der', type: 'spki' }),
    signFromMs: period * s.periodMs, notAfterMs: keyNotAfterMs(period, s),
  };
}

// Signs one JWT-SVID (ES256, jose): `sub` is the SPIFFE ID the caller proved, `aud` the audiences it asked for, the
// lifetime clamped by the CA (the audience rules are pki/jwt-svid.ts, shared with the sidecar).
import { SignJWT } from 'jose';
import type { JwtKey } from './jwt-keys.js';

/** A JWT-SVID lives at least this long, whatever the caller asks. */
export const MIN_JWT_TTL_MS = 1_000;

/** The CA's JWT-SVID lifetimes: the default when the caller asks for none, and the cap. */
export interface JwtTtlPolicy {
  defaultTtlMs: number;
  maxTtlMs: number;
}

/** The lifetime to sign for: the default for 0, else the request capped to the policy. Pure. */
export function clampJwtTtl(ttlSeconds: number, p: JwtTtlPolicy): number {
  if (!ttlSeconds) return p.defaultTtlMs;
  return Math.max(MIN_JWT_TTL_MS, Math.min(ttlSeconds * 1000, p.maxTtlMs));
}

/** A signed JWT-SVID and when it expires. Never log `token`. */
export interface SignedJwtSvid {
  token: string;
  keyId: string;
  expiresAtMs: number;
}

/** Signs a JWT-SVID for `spiffeId` with `key`, valid from `nowMs` for `ttlMs` (whole seconds, as JWT counts). */
export async function signJwtSvid(opts: { spiffeId: string; audiences: readonly string[]; ttlMs: number; key: JwtKey; nowMs: number }): Promise<SignedJwtSvid> {
  const iat = Math.floor(opts.nowMs / 1000);
  const exp = iat + Math.max(1, Math.floor(opts.ttlMs / 1000));
  const token = await new SignJWT({})
    .setProtectedHeader({ alg: 'ES256', kid: opts.key.keyId, typ: 'JWT' })
    .setSubject(opts.spiffeId)
    .setAudience([...opts.audiences])
    .setIssuedAt(iat)
    .setExpirationTime(exp)
    .sign(opts.key.privateKey);
  return { token, keyId: opts.key.keyId, expiresAtMs: exp * 1000 };
}

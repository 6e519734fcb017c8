// Signs one JWT-SVID (ES256, jose): `sub` is the SPIFFE ID the caller proved, `aud` the audiences it asked for, the
// lifetime clamped by the CA. The request checks are pure and apply before any key is touched.
import { SignJWT } from 'jose';
import { PolicyError } from '../../common/errors.js';
import type { JwtKey } from './jwt-keys.js';

/** Audiences one JWT-SVID may carry, and the longest audience accepted. */
export const MAX_AUDIENCES = 16;
export const MAX_AUDIENCE_LENGTH = 256;
/** A JWT-SVID lives at least this long, whatever the caller asks. */
export const MIN_JWT_TTL_MS = 1_000;

/** The CA's JWT-SVID lifetimes: the default when the caller asks for none, and the cap. */
export interface JwtTtlPolicy {
  defaultTtlMs: number;
  maxTtlMs: number;
}

/** The audiences of a request, checked: 1 to MAX_AUDIENCES non-empty strings; PolicyError `malformed_request` otherwise. Pure. */
export function checkAudiences(audiences: readonly string[]): string[] {
  if (audiences.length === 0) throw new PolicyError('malformed_request', 'at least one audience is required');
  if (audiences.length > MAX_AUDIENCES) throw new PolicyError('malformed_request', `at most ${MAX_AUDIENCES} audiences are accepted, got ${audiences.length}`);
  for (const a of audiences) {
    if (a.length === 0 || a.length > MAX_AUDIENCE_LENGTH) throw new PolicyError('malformed_request', `an audience must have 1 to ${MAX_AUDIENCE_LENGTH} characters`);
  }
  return [...new Set(audiences)];
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

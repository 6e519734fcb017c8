// ValidateJWTSVID: a JWT-SVID checked with jose against the JWT bundle the sidecar trusts (identity/jwt-bundle.ts):
// the signature by a trusted authority named by `kid`, ES/RS/PS algorithms only, `exp` with a small leeway, the
// audience, and `sub` a SPIFFE ID of the trust domain. Every failure is WorkloadApiError `jwt_invalid`.
import { createPublicKey, type KeyObject } from 'node:crypto';
import { errors as joseErrors, jwtVerify, type JWTPayload } from 'jose';
import { WorkloadApiError } from '../common/errors.js';
import { parseSpiffeId } from '../pki/spiffe-id.js';
import type { JwtBundle } from '../identity/jwt-bundle.js';
import type { JwtAuthorityFacts } from '../pki/jwt-authority.js';

/** Clock skew forgiven on `exp` (and `nbf`), in seconds. */
export const JWT_LEEWAY_SECONDS = 30;
/** The algorithms a JWT-SVID may use (the JWT-SVID standard's list); "none" and HMAC never. */
export const JWT_SVID_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'ES256', 'ES384', 'ES512', 'PS256', 'PS384', 'PS512'];
/** Longest token accepted for validation. */
export const MAX_TOKEN_LENGTH = 16 * 1024;

/** A validated JWT-SVID: its SPIFFE ID and every claim. */
export interface ValidatedJwtSvid {
  spiffeId: string;
  claims: JWTPayload;
}

/** One parsed public key per trusted authority (the bundle's facts objects live as long as they are trusted). */
const keys = new WeakMap<JwtAuthorityFacts, KeyObject>();
function keyOf(a: JwtAuthorityFacts): KeyObject {
  let k = keys.get(a);
  if (!k) keys.set(a, (k = createPublicKey({ key: a.publicKeySpki, format: 'der', type: 'spki' })));
  return k;
}

const invalid = (why: string, cause?: unknown) => new WorkloadApiError('jwt_invalid', `the JWT-SVID is not valid: ${why}`, cause ? { cause } : undefined);

/** Validates `token` for `audience` at `nowMs` against `bundle`. */
export async function validateJwtSvid(token: string, audience: string, bundle: JwtBundle, nowMs: number): Promise<ValidatedJwtSvid> {
  if (token.length > MAX_TOKEN_LENGTH) throw invalid(`longer than ${MAX_TOKEN_LENGTH} characters`);
  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(token, (header) => {
      if (header.typ !== undefined && header.typ !== 'JWT' && header.typ !== 'JOSE') throw invalid(`header typ "${header.typ}" is neither JWT nor JOSE`);
      const a = header.kid === undefined ? undefined : bundle.authorities.find((k) => k.keyId === header.kid);
      if (!a) throw invalid(header.kid === undefined ? 'the header names no key (kid)' : `no trusted JWT authority has kid "${header.kid}"`);
      return keyOf(a);
    }, { audience, algorithms: JWT_SVID_ALGORITHMS, clockTolerance: JWT_LEEWAY_SECONDS, currentDate: new Date(nowMs), requiredClaims: ['sub', 'exp', 'aud'] }));
  } catch (e) {
    if (e instanceof WorkloadApiError) throw e;
    if (e instanceof joseErrors.JWTExpired) throw invalid('it has expired', e);
    if (e instanceof joseErrors.JWTClaimValidationFailed && e.claim === 'aud') throw invalid(`its audience does not include "${audience}"`, e);
    if (e instanceof joseErrors.JOSEError) throw invalid(`${e.code}: ${e.message}`, e);
    throw invalid('it cannot be parsed', e);
  }
  let spiffeId: string;
  try {
    const id = parseSpiffeId(String(payload.sub));
    if (id.trustDomain !== bundle.trustDomain) throw new Error(`outside trust domain ${bundle.trustDomain}`);
    spiffeId = id.uri;
  } catch (e) {
    throw invalid(`sub "${String(payload.sub)}" is not a SPIFFE ID of this trust domain: ${(e as Error).message}`, e);
  }
  return { spiffeId, claims: payload };
}

// The Workload API's response messages, built from the identity's snapshots (pure): X.509-SVIDs with their DER key and
// bundle, bundles keyed by trust domain, the JWT bundle as a SPIFFE JWK Set, and token claims as a protobuf Struct.
import { createPublicKey } from 'node:crypto';
import type { JwtBundle } from '../identity/jwt-bundle.js';
import type { Svid, TrustBundle } from '../identity/credentials.js';
import type { X509SVIDResponse } from '../gen/spiffe/X509SVIDResponse.js';
import type { X509BundlesResponse } from '../gen/spiffe/X509BundlesResponse.js';
import type { JWTBundlesResponse } from '../gen/spiffe/JWTBundlesResponse.js';
import type { Struct } from '../gen/spiffe/google/protobuf/Struct.js';
import type { Value } from '../gen/spiffe/google/protobuf/Value.js';

/** The key of a trust domain in the bundle maps: its SPIFFE ID. */
export const trustDomainKey = (trustDomain: string) => `spiffe://${trustDomain}`;

/** The whole state, as every FetchX509SVID message carries it: chain and PKCS#8 key (DER), and the bundle. */
export function x509SvidResponse(svid: Svid, bundle: TrustBundle): X509SVIDResponse {
  return {
    svids: [{
      spiffeId: svid.spiffeId,
      x509Svid: Buffer.concat(svid.chainDer),
      x509SvidKey: svid.key.export({ format: 'der', type: 'pkcs8' }),
      bundle: Buffer.concat(bundle.rootsDer),
    }],
  };
}

/** FetchX509Bundles: the trust domain's roots, DER concatenated. */
export function x509BundlesResponse(bundle: TrustBundle): X509BundlesResponse {
  return { bundles: { [trustDomainKey(bundle.trustDomain)]: Buffer.concat(bundle.rootsDer) } };
}

/** A SPIFFE bundle (JWK Set) holding the JWT authorities: `use: jwt-svid`, a `kid` each, and `spiffe_sequence`. */
export function jwks(bundle: JwtBundle): { keys: Record<string, unknown>[]; spiffe_sequence: number } {
  return {
    keys: bundle.authorities.map((a) => ({
      ...createPublicKey({ key: a.publicKeySpki, format: 'der', type: 'spki' }).export({ format: 'jwk' }),
      kid: a.keyId,
      use: 'jwt-svid',
    })),
    spiffe_sequence: bundle.sequence,
  };
}

/** FetchJWTBundles: the JWK Set, as JSON bytes, keyed by trust domain. */
export function jwtBundlesResponse(bundle: JwtBundle): JWTBundlesResponse {
  return { bundles: { [trustDomainKey(bundle.trustDomain)]: Buffer.from(JSON.stringify(jwks(bundle))) } };
}

/** A JSON value as google.protobuf.Value. */
export function toValue(v: unknown): Value {
  if (v === null || v === undefined) return { nullValue: 'NULL_VALUE' };
  if (typeof v === 'number') return { numberValue: v };
  if (typeof v === 'string') return { stringValue: v };
  if (typeof v === 'boolean') return { boolValue: v };
  if (Array.isArray(v)) return { listValue: { values: v.map(toValue) } };
  if (typeof v === 'object') return { structValue: toStruct(v as Record<string, unknown>) };
  return { stringValue: String(v) };
}

/** A JSON object (a token's claims) as google.protobuf.Struct. */
export function toStruct(o: Record<string, unknown>): Struct {
  return { fields: Object.fromEntries(Object.entries(o).map(([k, v]) => [k, toValue(v)])) };
}

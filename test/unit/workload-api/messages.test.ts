// The Workload API's messages, built from snapshots: the X.509-SVID response carries the chain and a PKCS#8 DER key
// that belong together, the JWT bundle is a SPIFFE JWK Set (use jwt-svid, kid, spiffe_sequence, no private part),
// and claims become a protobuf Struct that round-trips.
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { makeTrustBundle } from '../../../src/identity/credentials.js';
import { buildSvid } from '../../../src/identity/svid-material.js';
import { jwks, jwtBundlesResponse, toStruct, x509SvidResponse } from '../../../src/workload-api/messages.js';
import { deriveJwtKey } from '../../../src/ca/jwt/jwt-keys.js';
import { makeCa, makeLeaf } from '../../helpers/pki.js';

const ca = makeCa('example.org');
const bundle = makeTrustBundle('example.org', [ca.certDer], 4);

describe('Workload API messages', () => {
  it('an X.509-SVID response holds the chain, its PKCS#8 key (DER) and the bundle', () => {
    const leaf = makeLeaf(ca, 'spiffe://example.org/ns/default/sa/web');
    const svid = buildSvid({ key: leaf.key, chainDer: [leaf.certDer], bundle, trustDomain: 'example.org', nowMs: Date.now() });
    const m = x509SvidResponse(svid, bundle).svids![0]!;
    expect(m.spiffeId).toBe(svid.spiffeId);
    const key = createPrivateKey({ key: m.x509SvidKey as Buffer, format: 'der', type: 'pkcs8' });
    expect(new X509Certificate(m.x509Svid as Buffer).checkPrivateKey(key)).toBe(true);
    expect((m.bundle as Buffer).equals(ca.certDer)).toBe(true);
  });

  it('the JWT bundle is a SPIFFE JWK Set with public keys only', () => {
    const S = { periodMs: 1_000, maxTtlMs: 1_000 };
    const keys = [deriveJwtKey(ca.key, 'example.org', 1, S), deriveJwtKey(ca.key, 'example.org', 2, S)];
    const b = { trustDomain: 'example.org', sequence: 7, authorities: keys.map((k) => ({ keyId: k.keyId, publicKeySpki: k.publicKeySpki, notAfterMs: k.notAfterMs })) };
    const set = jwks(b);
    expect(set.spiffe_sequence).toBe(7);
    expect(set.keys).toEqual(keys.map((k) => ({ kty: 'EC', crv: 'P-256', x: expect.any(String), y: expect.any(String), kid: k.keyId, use: 'jwt-svid' })));
    expect(JSON.parse((jwtBundlesResponse(b).bundles!['spiffe://example.org'] as Buffer).toString())).toEqual(set);
  });

  it('claims become a Struct', () => {
    expect(toStruct({ sub: 's', aud: ['a', 'b'], exp: 5, ok: true, nested: { n: null } })).toEqual({ fields: {
      sub: { stringValue: 's' }, aud: { listValue: { values: [{ stringValue: 'a' }, { stringValue: 'b' }] } }, exp: { numberValue: 5 },
      ok: { boolValue: true }, nested: { structValue: { fields: { n: { nullValue: 'NULL_VALUE' } } } },
    } });
  });
});

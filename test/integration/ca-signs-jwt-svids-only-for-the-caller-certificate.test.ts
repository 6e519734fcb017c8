// SignJwtSvid on real CA processes: the CA signs a JWT-SVID for exactly the SPIFFE ID of the caller's X.509-SVID (TLS
// client certificate), with the lifetime capped by --jwt-max-ttl; a bearer token alone (even a valid join token for
// another ID) gets UNAUTHENTICATED. Two replicas on the same state directory publish the same JWT authorities on
// the bundle stream, each signed by the CA's key, and the tokens of one verify with the keys of the other.
import { X509Certificate, createPublicKey } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { decodeJwt, decodeProtectedHeader, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CertificateAuthorityClient } from '../../src/gen/ztmesh/ca/v1/CertificateAuthority.js';
import type { SignJwtSvidResponse__Output } from '../../src/gen/ztmesh/ca/v1/SignJwtSvidResponse.js';
import { verifyAuthority } from '../../src/pki/jwt-authority.js';
import { collectBundles } from '../helpers/bundle-stream.js';
import { chainPem, makeCsr, signCsr, startCa, type TestCaServer } from '../helpers/ca.js';

const ID = 'spiffe://example.org/ns/default/sa/web';
let ca: TestCaServer;
let replica: TestCaServer;
let withCert: CertificateAuthorityClient;

function signJwt(client: CertificateAuthorityClient, request: { audience: string[]; ttlSeconds?: number }, token?: string): Promise<SignJwtSvidResponse__Output> {
  const md = new grpc.Metadata();
  if (token) md.set('authorization', `Bearer ${token}`);
  return new Promise((resolve, reject) => client.SignJwtSvid({ ttlSeconds: 0, ...request }, md, { deadline: Date.now() + 10_000 }, (e, v) => (e ? reject(e) : resolve(v!))));
}

beforeAll(async () => {
  ca = await startCa({ args: ['--jwt-max-ttl', '10m'] });
  replica = await startCa({ dir: ca.dir, args: ['--jwt-max-ttl', '10m'] });
  const { keyPem, csr } = makeCsr(ID);
  const res = await signCsr(ca.client(), csr, { token: await ca.mintToken(ID) });
  withCert = ca.client({ cert: chainPem(res), key: keyPem });
});
afterAll(async () => {
  await replica?.stop();
  await ca?.stop();
});

describe('SignJwtSvid', () => {
  it('signs for the ID of the client certificate, with the audiences asked for, the default lifetime and the cap', async () => {
    const before = Math.floor(Date.now() / 1000);
    const token = (await signJwt(withCert, { audience: ['db', 'cache'] })).token;
    expect(decodeProtectedHeader(token)).toMatchObject({ alg: 'ES256', typ: 'JWT', kid: expect.any(String) });
    const claims = decodeJwt(token);
    expect(claims).toMatchObject({ sub: ID, aud: ['db', 'cache'] });
    expect(claims.exp! - claims.iat!).toBe(300);
    expect(claims.iat).toBeGreaterThanOrEqual(before - 1);
    const long = decodeJwt((await signJwt(withCert, { audience: ['db'], ttlSeconds: 86_400 })).token);
    expect(long.exp! - long.iat!).toBe(600);
    const audit = JSON.parse(await ca.process.waitFor(/"kind":"jwt-svid"/)) as Record<string, unknown>;
    expect(audit).toMatchObject({ spiffeId: ID, audiences: ['db', 'cache'], msg: 'issued' });
    expect(JSON.stringify(ca.process.json())).not.toContain(token);
  });

  it('refuses a caller without a client certificate, even with a valid join token, and a request without audience', async () => {
    const token = await ca.mintToken('spiffe://example.org/ns/default/sa/someone-else');
    const e = await signJwt(ca.client(), { audience: ['db'] }, token).catch((err: grpc.ServiceError) => err) as grpc.ServiceError;
    expect(e.code).toBe(grpc.status.UNAUTHENTICATED);
    expect(e.details).toMatch(/^no_credential: /);
    const empty = await signJwt(withCert, { audience: [] }).catch((err: grpc.ServiceError) => err) as grpc.ServiceError;
    expect(empty.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(empty.details).toBe('malformed_request: at least one audience is required');
  });

  it('two replicas publish the same JWT authorities, signed under the root, and verify each other\'s tokens', async () => {
    const streams = [ca, replica].map((c) => collectBundles(c.client().WatchTrustBundle({})));
    const [a, b] = await Promise.all(streams.map((s) => s.next(1)));
    const ids = (m: typeof a) => m.jwtAuthorities.map((x) => x.keyId);
    expect(ids(a).length).toBeGreaterThanOrEqual(2);
    expect(ids(b)).toEqual(ids(a));
    const root = new X509Certificate(ca.bundlePem);
    for (const x of a.jwtAuthorities) {
      verifyAuthority('example.org', { keyId: x.keyId, publicKeySpki: x.publicKey, notAfterMs: Number(x.notAfter) * 1000, signature: x.signature, signerChainDer: x.signerChain },
        x.signerChain.map((d) => new X509Certificate(d)), [root], Date.now());
    }
    const token = (await signJwt(withCert, { audience: ['db'] })).token;
    const key = b.jwtAuthorities.find((x) => x.keyId === decodeProtectedHeader(token).kid)!;
    const { payload } = await jwtVerify(token, createPublicKey({ key: key.publicKey, format: 'der', type: 'spki' }), { audience: 'db' });
    expect(payload.sub).toBe(ID);
  });
});

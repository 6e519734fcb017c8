// A valid projected ServiceAccount token is checked with a real TokenReview and becomes spiffe://<td>/ns/<ns>/sa/<sa>.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { attestorKit, type AttestorKit } from '../helpers/k8s-test-kit.js';

describe('TokenReview attestor: valid ServiceAccount token', () => {
  let kit: AttestorKit;
  beforeAll(async () => { kit = await attestorKit(); });
  afterAll(async () => { await kit.close(); });

  it('attests the SPIFFE ID of the token\'s ServiceAccount', async () => {
    const token = await kit.api.mintToken({ namespace: 'shop', serviceAccount: 'web', pod: 'web-7d9f' });
    const result = await kit.attestor.attest({ bearerToken: token, peer: '10.1.2.3:40000' });
    expect(result).toEqual({ spiffeId: 'spiffe://cluster.local/ns/shop/sa/web', method: 'k8s_token' });
    const line = kit.log.lines.find((l) => l.msg === 'k8s token attested')!;
    expect(line).toMatchObject({ peer: '10.1.2.3:40000', spiffeId: 'spiffe://cluster.local/ns/shop/sa/web', pod: 'web-7d9f' });
    expect(kit.log.text()).not.toContain(token);
  });

  it('sends a real authentication.k8s.io/v1 TokenReview with the ztmesh-ca audience and its own SA token', async () => {
    const req = kit.api.requests.at(-1)!;
    expect(req.method).toBe('POST');
    expect(req.path).toBe('/apis/authentication.k8s.io/v1/tokenreviews');
    expect(req.contentType).toBe('application/json');
    expect(req.authorization).toMatch(/^Bearer caller-/);
    expect(req.body).toEqual({ apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token: expect.any(String), audiences: ['ztmesh-ca'] } });
  });

  it('returns undefined (next attestor) for no token and for tokens that are not JWTs, such as join tokens', async () => {
    const before = kit.api.requests.length;
    expect(await kit.attestor.attest({ peer: 'p' })).toBeUndefined();
    expect(await kit.attestor.attest({ bearerToken: 'ztjt_abcdef0123456789', peer: 'p' })).toBeUndefined();
    expect(kit.api.requests.length).toBe(before);
  });

  it('reuses a positive review for the same token, without another API call', async () => {
    const token = await kit.api.mintToken({ namespace: 'shop', serviceAccount: 'cart' });
    const before = kit.api.requests.length;
    for (let i = 0; i < 3; i++) {
      expect((await kit.attestor.attest({ bearerToken: token, peer: 'p' }))?.spiffeId).toBe('spiffe://cluster.local/ns/shop/sa/cart');
    }
    expect(kit.api.requests.length).toBe(before + 1);
  });
});

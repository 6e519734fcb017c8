// Positive reviews are cached briefly (fake clock), never past the token's exp, and keyed by the token's hash.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { attestorKit, type AttestorKit } from '../helpers/k8s-test-kit.js';

describe('TokenReview attestor: cache expiry', () => {
  let kit: AttestorKit;
  beforeEach(async () => { kit = await attestorKit({ cacheTtlMs: 60_000 }); });
  afterEach(async () => { await kit.close(); });

  const reviews = () => kit.api.requests.filter((r) => r.path.endsWith('/tokenreviews')).length;

  it('asks the API server again once the cache TTL has passed, and sees a revoked token', async () => {
    const token = await kit.api.mintToken({ namespace: 'ns1', serviceAccount: 'sa1' });
    await kit.attestor.attest({ bearerToken: token, peer: 'p' });
    await kit.clock.advance(59_000);
    await kit.attestor.attest({ bearerToken: token, peer: 'p' });
    expect(reviews()).toBe(1);
    kit.api.revoke(token); // e.g. the pod was deleted: its token no longer reviews as valid
    await kit.clock.advance(1_000);
    await expect(kit.attestor.attest({ bearerToken: token, peer: 'p' })).rejects.toMatchObject({ code: 'token_invalid' });
    expect(reviews()).toBe(2);
  });

  it('never caches past the token\'s exp: a token expiring in 10 s is reviewed again after 10 s', async () => {
    const token = await kit.api.mintToken({ namespace: 'ns1', serviceAccount: 'short', ttlSeconds: 10 });
    await kit.attestor.attest({ bearerToken: token, peer: 'p' });
    await kit.clock.advance(9_000);
    await kit.attestor.attest({ bearerToken: token, peer: 'p' });
    expect(reviews()).toBe(1);
    await kit.clock.advance(1_000);
    // Now at exp: refused locally as expired, without trusting the stale cache entry.
    await expect(kit.attestor.attest({ bearerToken: token, peer: '10.0.0.9:1' })).rejects.toMatchObject({ code: 'token_expired' });
    expect(kit.attestor.cacheSize()).toBe(0);
  });

  it('keys the cache by token: two tokens of the same SA are reviewed separately', async () => {
    const a = await kit.api.mintToken({ namespace: 'ns1', serviceAccount: 'sa1', pod: 'a' });
    const b = await kit.api.mintToken({ namespace: 'ns1', serviceAccount: 'sa1', pod: 'b' });
    await kit.attestor.attest({ bearerToken: a, peer: 'p' });
    await kit.attestor.attest({ bearerToken: b, peer: 'p' });
    expect(reviews()).toBe(2);
    expect(kit.attestor.cacheSize()).toBe(2);
  });
});

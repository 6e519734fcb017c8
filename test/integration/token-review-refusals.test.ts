// Refusals: authenticated:false, wrong audience, a user that is not a ServiceAccount, malformed and expired tokens.
// Each refusal has a stable code and a log line naming the peer; the token never appears in logs or errors.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AttestationError } from '../../src/common/errors.js';
import { attestorKit, type AttestorKit } from '../helpers/k8s-test-kit.js';

describe('TokenReview attestor: refusals', () => {
  let kit: AttestorKit;
  beforeAll(async () => { kit = await attestorKit(); });
  afterAll(async () => { await kit.close(); });

  async function refused(token: string, peer: string): Promise<AttestationError> {
    const err = await kit.attestor.attest({ bearerToken: token, peer }).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(AttestationError);
    const e = err as AttestationError;
    expect(e.message).not.toContain(token);
    const line = kit.log.lines.find((l) => l.peer === peer && l.code === e.code);
    expect(line, `a log line naming ${peer} with ${e.code}`).toBeDefined();
    expect(kit.log.text()).not.toContain(token);
    return e;
  }

  it('authenticated: false (unknown or forged token) → token_invalid', async () => {
    const token = await kit.api.mintToken({ namespace: 'a', serviceAccount: 'b' });
    kit.api.revoke(token);
    expect((await refused(token, '10.0.0.1:1')).code).toBe('token_invalid');
  });

  it('a token for another audience (the API server\'s own) → wrong_audience, without an API call', async () => {
    const token = await kit.api.mintToken({ namespace: 'a', serviceAccount: 'b', audiences: ['https://kubernetes.default.svc.cluster.local'] });
    const before = kit.api.requests.length;
    expect((await refused(token, '10.0.0.2:1')).code).toBe('wrong_audience');
    expect(kit.api.requests.length).toBe(before);
  });

  it('an authenticator that ignores spec.audiences: status.audiences lacks ztmesh-ca → wrong_audience', async () => {
    const token = await kit.api.mintToken({ namespace: 'a', serviceAccount: 'b' });
    kit.api.mode = 'no-audience-check';
    try {
      const before = kit.api.requests.length;
      expect((await refused(token, '10.0.0.3:1')).code).toBe('wrong_audience');
      expect(kit.api.requests.length).toBe(before + 1);
      expect(kit.attestor.cacheSize()).toBe(0);
    } finally {
      kit.api.mode = 'normal';
    }
  });

  it('a user that is not a ServiceAccount → not_service_account', async () => {
    const token = await kit.api.mintUserToken('alice');
    expect((await refused(token, '10.0.0.4:1')).code).toBe('not_service_account');
    const node = await kit.api.mintUserToken('system:node:worker-1');
    expect((await refused(node, '10.0.0.5:1')).code).toBe('not_service_account');
  });

  it('a JWT-shaped token that does not decode → token_malformed', async () => {
    expect((await refused('eyJub3QiOiJqc29u.bm9wZQ.c2ln', '10.0.0.6:1')).code).toBe('token_malformed');
  });

  it('an expired token → token_expired, refused before any API call', async () => {
    const token = await kit.api.mintToken({ namespace: 'a', serviceAccount: 'b', ttlSeconds: 5 });
    await kit.clock.advance(6_000);
    const before = kit.api.requests.length;
    expect((await refused(token, '10.0.0.7:1')).code).toBe('token_expired');
    expect(kit.api.requests.length).toBe(before);
  });
});

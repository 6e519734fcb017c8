// Join-token attestor: claims only join tokens, checks without using up, consume() uses up.
import { describe, expect, it } from 'vitest';
import { JoinTokenAttestor } from '../../../../src/ca/attestors/join-token.js';
import { attest } from '../../../../src/ca/attestors/run.js';
import { JoinTokenStore } from '../../../../src/ca/attestors/join-tokens.js';
import { FakeClock } from '../../../helpers/fake-clock.js';
import { tempDir } from '../../../helpers/temp-dir.js';

describe('JoinTokenAttestor', () => {
  const clock = new FakeClock();
  const store = new JoinTokenStore(tempDir('ztmesh-jta-'));
  const a = new JoinTokenAttestor(store, 'example.org', clock);
  const peer = '127.0.0.1:1';

  it('leaves other bearer tokens (e.g. a Kubernetes JWT) to the next attestor', async () => {
    expect(await a.attest({ peer, bearerToken: 'eyJhbGciOi.x.y' })).toBeUndefined();
    expect(await a.attest({ peer })).toBeUndefined();
  });

  it('attests without using the token; consume() uses it up', async () => {
    const { token } = await store.create('spiffe://example.org/a', 60_000, clock.now());
    const first = await a.attest({ peer, bearerToken: token });
    expect(first).toMatchObject({ spiffeId: 'spiffe://example.org/a', method: 'join_token' });
    await a.attest({ peer, bearerToken: token }); // still unused
    await first!.consume!();
    await expect(a.attest({ peer, bearerToken: token })).rejects.toMatchObject({ code: 'token_reused' });
  });

  it('refuses a token for another trust domain', async () => {
    const { token } = await store.create('spiffe://other.org/a', 60_000, clock.now());
    await expect(a.attest({ peer, bearerToken: token })).rejects.toMatchObject({ code: 'foreign_trust_domain' });
  });

  it('run(): no credential at all → no_credential; an unrecognised bearer → unknown_token', async () => {
    await expect(attest([a], { peer })).rejects.toMatchObject({ code: 'no_credential' });
    await expect(attest([a], { peer, bearerToken: 'whatever' })).rejects.toMatchObject({ code: 'unknown_token' });
  });
});

// The authorities a CA replica publishes, on a fake clock: the set moves at period boundaries and when an old key's
// tokens can no longer be valid; each authority verifies under the CA's root; after a switch of signing material the
// new material signs, and the old material's keys stay published (never used) until their notAfter.
import { X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { JwtAuthoritySource } from '../../../../src/ca/jwt/jwt-authorities.js';
import { verifyAuthority } from '../../../../src/pki/jwt-authority.js';
import type { SigningMaterial } from '../../../../src/ca/state-dir.js';
import { captureLogger } from '../../../helpers/capture-logger.js';
import { FakeClock } from '../../../helpers/fake-clock.js';
import { makeCa, type TestCa } from '../../../helpers/pki.js';

const S = { periodMs: 60_000, maxTtlMs: 10_000 };
const material = (ca: TestCa): SigningMaterial => ({ trustDomain: 'example.org', issuer: ca.issuer as SigningMaterial['issuer'], keyPem: ca.keyPem, caCertDer: ca.certDer, intermediatesDer: [], keyMode: 0o600 });

describe('JwtAuthoritySource', () => {
  it('publishes the current and next keys, signed under the root, and moves them with the clock', async () => {
    const ca = makeCa('example.org');
    const clock = new FakeClock(Math.floor(Date.now() / S.periodMs) * S.periodMs + 20_000); // past the last period's tokens
    const src = new JwtAuthoritySource({ material: material(ca), schedule: S, clock, log: captureLogger().logger });
    const seen: string[][] = [];
    src.subscribe((a) => seen.push(a.map((x) => x.keyId)));
    const [current, next] = src.current();
    expect(src.current()).toHaveLength(2);
    expect(src.signingKey(clock.now()).keyId).toBe(current!.keyId);
    for (const a of src.current()) verifyAuthority('example.org', a, a.signerChainDer.map((d) => new X509Certificate(d)), [ca.cert], clock.now());
    await clock.advance(S.periodMs - 20_000); // the next period: the old key stays while its tokens may live, the one after appears
    expect(src.current().map((a) => a.keyId)).toEqual([current!.keyId, next!.keyId, expect.any(String)]);
    expect(src.signingKey(clock.now()).keyId).toBe(next!.keyId);
    await clock.advance(S.maxTtlMs);
    expect(src.current().map((a) => a.keyId)[0]).toBe(next!.keyId);
    expect(seen).toHaveLength(3);
    src.close();
  });

  it('after a switch of signing material, signs with the new material and keeps the old keys until their notAfter', async () => {
    const [old, fresh] = [makeCa('example.org'), makeCa('example.org')];
    const clock = new FakeClock(Math.floor(Date.now() / S.periodMs) * S.periodMs + 20_000); // past the last period's tokens
    const src = new JwtAuthoritySource({ material: material(old), schedule: S, clock, log: captureLogger().logger });
    const before = src.current().map((a) => a.keyId);
    src.switchTo(material(fresh));
    const after = src.current();
    expect(after.map((a) => a.keyId).slice(0, 1)).toEqual(before.slice(0, 1)); // the old current key, no longer its next
    expect(after).toHaveLength(3);
    expect(src.signingKey(clock.now()).keyId).toBe(after[1]!.keyId);
    expect(after[1]!.signerChainDer[0]!.equals(fresh.certDer)).toBe(true);
    await clock.advance(S.periodMs + S.maxTtlMs);
    expect(src.current().every((a) => a.signerChainDer[0]!.equals(fresh.certDer))).toBe(true);
    src.close();
  });
});

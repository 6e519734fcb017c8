// JWT signing keys per period: which periods are published when (a table over the schedule), when that changes, and
// the derivation: the same CA key gives every replica the same key for a period, and keys differ across periods,
// trust domains and CA keys; the derived key signs ES256 and its kid is its RFC 7638 thumbprint.
import { createPublicKey, sign, verify } from 'node:crypto';
import { calculateJwkThumbprint } from 'jose';
import { describe, expect, it } from 'vitest';
import { deriveJwtKey, keyNotAfterMs, nextChangeMs, periodAt, publishedPeriods } from '../../../../src/ca/jwt/jwt-keys.js';
import { generateKeySync, loadPrivateKey, privateKeyPem } from '../../../../src/pki/keys.js';

const S = { periodMs: 100, maxTtlMs: 30 };

describe('the JWT key schedule', () => {
  it.each([
    // now, published periods (oldest first)
    [0, [0, 1]],
    [99, [0, 1]],
    [100, [0, 1, 2]], // period 0's tokens may live until 100 + 30
    [129, [0, 1, 2]],
    [130, [1, 2]],
    [1_000, [9, 10, 11]],
    [1_031, [10, 11]],
  ])('at %i publishes %j: every key whose tokens may be valid, the current one and the next', (now, periods) => {
    expect(publishedPeriods(now, S)).toEqual(periods);
    expect(periods).toContain(periodAt(now, S) + 1);
  });

  it.each([[0, 100], [100, 130], [129, 130], [130, 200], [1_031, 1_100]])('after %i the set changes next at %i', (now, next) => {
    expect(nextChangeMs(now, S)).toBe(next);
    expect(publishedPeriods(next, S)).not.toEqual(publishedPeriods(now, S));
    expect(publishedPeriods(next - 1, S)).toEqual(publishedPeriods(now, S));
  });

  it('a key outlives every token it signs: its notAfter is its period end plus the longest lifetime', () => {
    expect(keyNotAfterMs(4, S)).toBe(530);
  });
});

describe('deriveJwtKey', () => {
  const caKey = generateKeySync();
  const replica = loadPrivateKey(privateKeyPem(caKey), 'ca.key'); // another process reading the same ca.key

  it('gives every replica the same key for a period, and another key for another period, trust domain or CA key', () => {
    const a = deriveJwtKey(caKey, 'example.org', 7, S);
    const b = deriveJwtKey(replica, 'example.org', 7, S);
    expect(b.keyId).toBe(a.keyId);
    expect(b.publicKeySpki.equals(a.publicKeySpki)).toBe(true);
    const others = [deriveJwtKey(caKey, 'example.org', 8, S), deriveJwtKey(caKey, 'other.org', 7, S), deriveJwtKey(generateKeySync(), 'example.org', 7, S)];
    expect(new Set([a.keyId, ...others.map((k) => k.keyId)]).size).toBe(4);
    expect(a).toMatchObject({ period: 7, signFromMs: 700, notAfterMs: 830 });
  });

  it('is a P-256 key that signs, whose kid is its RFC 7638 thumbprint', async () => {
    const k = deriveJwtKey(caKey, 'example.org', 1, S);
    const pub = createPublicKey({ key: k.publicKeySpki, format: 'der', type: 'spki' });
    expect(pub.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    const sig = sign('sha256', Buffer.from('x'), { key: k.privateKey, dsaEncoding: 'ieee-p1363' });
    expect(verify('sha256', Buffer.from('x'), { key: pub, dsaEncoding: 'ieee-p1363' }, sig)).toBe(true);
    expect(k.keyId).toBe(await calculateJwkThumbprint(pub.export({ format: 'jwk' }) as never));
  });
});

// Chain verification against a bundle: accepted chains and each refusal code.
import { describe, expect, it } from 'vitest';
import { verifySvidChain } from '../../../src/pki/verify.js';
import { makeCa, makeIntermediate, makeLeaf } from '../../helpers/pki.js';

describe('verifySvidChain', () => {
  const now = Date.now();
  const root = makeCa('example.org', now);
  const id = 'spiffe://example.org/ns/default/sa/web';

  it('accepts a leaf of a root in the bundle, and through an intermediate', () => {
    expect(verifySvidChain([makeLeaf(root, id).certDer], [root.cert], now).spiffeId).toBe(id);
    const mid = makeIntermediate(root, now);
    expect(verifySvidChain([makeLeaf(mid, id).certDer, mid.certDer], [root.cert], now).spiffeId).toBe(id);
  });

  it.each([
    ['untrusted_chain', () => [makeLeaf(makeCa('example.org', now), id).certDer], now],
    ['cert_expired', () => [makeLeaf(root, id, { nowMs: now - 7_200_000, ttlMs: 3_600_000 }).certDer], now],
    ['cert_not_yet_valid', () => [makeLeaf(root, id, { nowMs: now + 7_200_000 }).certDer], now],
    ['not_a_leaf', () => [makeIntermediate(root, now).certDer], now],
    ['no_certificate', () => [], now],
  ] as const)('refuses with %s', (code, chain, at) => {
    expect(() => verifySvidChain(chain(), [root.cert], at)).toThrow(expect.objectContaining({ code }));
  });
});

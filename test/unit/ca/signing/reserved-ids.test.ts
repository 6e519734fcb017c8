// The reserved-ID rule as a table: which IDs are reserved, which grants lift it, and which grants are refused.
import { describe, expect, it } from 'vitest';
import { assertNotReserved, parseReservedGrants, reservedKind } from '../../../../src/ca/signing/reserved-ids.js';

const TD = 'example.org';
const none = { trustDomain: TD, granted: new Set<string>() };

describe('reserved identities', () => {
  it.each([
    ['spiffe://example.org', 'trust_domain_id'],
    ['spiffe://example.org/ns/ztmesh-system/sa/ztmesh-ca', 'ca_id'],
    ['spiffe://example.org/ns/ztmesh-system/sa/ztmesh-webhook', 'ca_namespace'],
    ['spiffe://example.org/ns/ztmesh-system', 'ca_namespace'],
    ['spiffe://example.org/ns/ztmesh-system/anything/else', 'ca_namespace'],
    ['spiffe://example.org/ns/ztmesh-system-2/sa/x', undefined],
    ['spiffe://example.org/ns/default/sa/ztmesh-ca', undefined],
    ['spiffe://example.org/ztmesh-system', undefined],
    ['spiffe://other.org/ns/ztmesh-system/sa/ztmesh-ca', undefined], // another trust domain is refused elsewhere
  ])('%s is %s', (id, kind) => {
    expect(reservedKind(id, TD)).toBe(kind);
    if (kind) expect(() => assertNotReserved(id, none)).toThrow(expect.objectContaining({ name: 'PolicyError', code: 'reserved_identity' }));
    else expect(() => assertNotReserved(id, none)).not.toThrow();
  });

  it('a grant lifts the rule for exactly that ID in ztmesh-system', () => {
    const policy = { trustDomain: TD, granted: parseReservedGrants(['ztmesh-system/ztmesh-webhook'], TD) };
    expect([...policy.granted]).toEqual(['spiffe://example.org/ns/ztmesh-system/sa/ztmesh-webhook']);
    expect(() => assertNotReserved('spiffe://example.org/ns/ztmesh-system/sa/ztmesh-webhook', policy)).not.toThrow();
    expect(() => assertNotReserved('spiffe://example.org/ns/ztmesh-system/sa/other', policy)).toThrow(expect.objectContaining({ code: 'reserved_identity' }));
    const full = parseReservedGrants(['spiffe://example.org/ns/ztmesh-system/sa/ztmesh-webhook'], TD);
    expect(full).toEqual(policy.granted);
  });

  it.each([
    ['spiffe://example.org/ns/ztmesh-system/sa/ztmesh-ca', 'can never be granted'],
    ['ztmesh-system/ztmesh-ca', 'can never be granted'],
    ['spiffe://example.org', 'can never be granted'],
    ['spiffe://example.org/ns/default/sa/web', 'is not reserved'],
    ['spiffe://other.org/ns/ztmesh-system/sa/x', "outside the CA's trust domain"],
    ['not an id', 'invalid SPIFFE ID'],
  ])('refuses the grant %s (%s), naming the flag and the value', (value, why) => {
    expect(() => parseReservedGrants([value], TD)).toThrow(expect.objectContaining({
      name: 'ConfigError', code: 'invalid_flag', message: expect.stringMatching(new RegExp(`--grant-reserved-id "${value.replace(/[/.]/g, '\\$&')}": .*${why}`)),
    }));
  });
});

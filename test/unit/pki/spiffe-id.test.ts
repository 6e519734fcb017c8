// SPIFFE ID parsing per the SPIFFE ID spec: table of accepted and refused IDs, trust domains and patterns.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { matchesPattern, parseSpiffeId, parseSpiffePattern, trustDomainId, validateTrustDomain, workloadId } from '../../../src/pki/spiffe-id.js';

describe('parseSpiffeId', () => {
  it.each([
    ['spiffe://example.org', 'example.org', ''],
    ['spiffe://example.org/ns/default/sa/web', 'example.org', '/ns/default/sa/web'],
    ['spiffe://cluster.local/a_b/C-d/e.f', 'cluster.local', '/a_b/C-d/e.f'],
    ['spiffe://td-1.example_2/x', 'td-1.example_2', '/x'],
  ])('accepts %s', (text, td, path) => {
    expect(parseSpiffeId(text)).toEqual({ trustDomain: td, path, uri: text });
  });

  it.each([
    ['', 'empty'],
    ['http://example.org/x', 'scheme'],
    ['SPIFFE://example.org/x', 'scheme'],
    ['spiffe://', 'trust domain is empty'],
    ['spiffe:///x', 'trust domain is empty'],
    ['spiffe://Example.org/x', 'lowercase'],
    ['spiffe://exa mple.org/x', 'lowercase'],
    ['spiffe://user@example.org/x', 'userinfo'],
    ['spiffe://example.org:8080/x', 'port'],
    ['spiffe://example.org/x?y=1', 'query'],
    ['spiffe://example.org/x#frag', 'fragment'],
    ['spiffe://example.org/', 'empty segment'],
    ['spiffe://example.org//x', 'empty segment'],
    ['spiffe://example.org/x/', 'empty segment'],
    ['spiffe://example.org/./x', '"."'],
    ['spiffe://example.org/x/..', '".."'],
    ['spiffe://example.org/x%20y', 'characters'],
    ['spiffe://example.org/ü', 'characters'],
    [`spiffe://example.org/${'a'.repeat(2048)}`, '2048'],
  ])('refuses %j (%s)', (text, why) => {
    expect(() => parseSpiffeId(text)).toThrow(expect.objectContaining({ code: 'invalid_spiffe_id', message: expect.stringContaining(why) }));
  });

  it('limits trust domains to 255 characters', () => {
    expect(validateTrustDomain('a'.repeat(255))).toBe('a'.repeat(255));
    expect(() => validateTrustDomain('a'.repeat(256))).toThrow(expect.objectContaining({ code: 'invalid_trust_domain' }));
  });

  it('builds workload and trust domain IDs', () => {
    expect(workloadId('cluster.local', 'default', 'web').uri).toBe('spiffe://cluster.local/ns/default/sa/web');
    expect(trustDomainId('example.org')).toBe('spiffe://example.org');
    expect(() => workloadId('cluster.local', 'a/b', 'web')).not.toThrow(); // "a/b" is two valid segments
    expect(() => workloadId('cluster.local', '', 'web')).toThrow();
  });
});

describe('SPIFFE ID patterns', () => {
  const id = parseSpiffeId('spiffe://td/ns/ops/sa/x');
  it.each([
    ['spiffe://td/ns/ops/sa/x', true],
    ['spiffe://td/ns/ops/*', true],
    ['spiffe://td/ns/op/*', false],
    ['spiffe://td', true],
    ['spiffe://td/*', true],
    ['spiffe://other/*', false],
    ['spiffe://td/ns/ops/sa/x/y', false],
  ])('%s matches: %s', (pattern, expected) => {
    expect(matchesPattern(id, parseSpiffePattern(pattern))).toBe(expected);
  });

  it('refuses a malformed pattern', () => {
    expect(() => parseSpiffePattern('spiffe://td/*/x')).toThrow(expect.objectContaining({ code: 'invalid_spiffe_pattern' }));
  });
});

describe('parseSpiffeId under fast-check', () => {
  // The rules spelt out one by one (the specification's order): the one-match fast path must agree with them exactly.
  const valid = (t: string): boolean => {
    if (t.length === 0 || Buffer.byteLength(t) > 2048 || !t.startsWith('spiffe://')) return false;
    const rest = t.slice(9);
    const slash = rest.indexOf('/');
    const td = slash < 0 ? rest : rest.slice(0, slash);
    const path = slash < 0 ? '' : rest.slice(slash);
    if (td.length === 0 || td.length > 255 || !/^[a-z0-9._-]+$/.test(td)) return false;
    return path === '' || path.slice(1).split('/').every((seg) => seg !== '' && seg !== '.' && seg !== '..' && /^[a-zA-Z0-9._-]+$/.test(seg));
  };
  it('accepts exactly the IDs the rules accept', () => {
    const char = fc.constantFrom('a', 'Z', '0', '.', '-', '_', '/', ':', '@', '?', ' ', 'é');
    const text = fc.oneof(fc.string({ unit: char, maxLength: 20 }).map((x) => `spiffe://${x}`), fc.string({ maxLength: 30 }), fc.constantFrom('spiffe://td/./x', 'spiffe://td/..', 'spiffe://td//x', 'spiffe://td/x/'));
    fc.assert(fc.property(text, (t) => {
      let ok = true;
      try {
        const id = parseSpiffeId(t);
        expect(`spiffe://${id.trustDomain}${id.path}`).toBe(t);
      } catch {
        ok = false;
      }
      expect(ok).toBe(valid(t));
    }), { numRuns: 5_000 });
  });
});

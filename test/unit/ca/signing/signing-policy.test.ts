// The signing policy as pure functions: TTL clamp table, SAN set by the CA, refusals with stable codes.
import { X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { clampTtl, signCsr } from '../../../../src/ca/signing/signing-policy.js';
import { buildCsr, generateKeySync } from '../../../../src/pki/index.js';
import { makeCa } from '../../../helpers/pki.js';

const policy = { defaultTtlMs: 3_600_000, minTtlMs: 60_000, maxTtlMs: 86_400_000 };
const ID = 'spiffe://example.org/ns/default/sa/web';
const NOW = Date.UTC(2026, 10, 27, 12);
const ca = makeCa('example.org', NOW - 1000);

describe('clampTtl', () => {
  it.each([
    [0, 3_600_000], [1, 60_000], [59, 60_000], [60, 60_000], [600, 600_000], [86_400, 86_400_000], [4_294_967_295, 86_400_000],
  ])('%d s → %d ms', (s, ms) => expect(clampTtl(s, policy)).toBe(ms));
});

describe('signCsr', () => {
  const job = (csr: Buffer, allowedDnsNames: string[] = []) => ({ csr, spiffeId: ID, allowedDnsNames, ttlMs: 600_000, nowMs: NOW });

  it('sets the attested ID as the only URI SAN, keeps only granted DNS names', () => {
    const res = signCsr(job(buildCsr(generateKeySync(), { uris: [ID], dnsNames: ['web.svc', 'evil.example'] }), ['web.svc']), ca.issuer);
    const cert = new X509Certificate(res.der);
    expect(cert.subjectAltName).toBe(`URI:${ID}, DNS:web.svc`);
    expect(res.notAfterMs).toBe(NOW + 600_000);
    expect(res.keyType).toBe('ec-p256');
  });

  it('signs a CSR without SANs for the attested ID', () => {
    expect(new X509Certificate(signCsr(job(buildCsr(generateKeySync())), ca.issuer).der).subjectAltName).toBe(`URI:${ID}`);
  });

  it.each([
    ['identity_mismatch', () => buildCsr(generateKeySync(), { uris: ['spiffe://example.org/ns/default/sa/admin'] })],
    ['identity_mismatch', () => buildCsr(generateKeySync(), { uris: [ID, 'https://example.org'] })],
    ['malformed_csr', () => Buffer.from('nope')],
    ['bad_csr_signature', () => { const b = Buffer.from(buildCsr(generateKeySync(), { uris: [ID] })); b[b.length - 2] ^= 1; return b; }],
  ] as const)('refuses with %s', (code, csr) => {
    expect(() => signCsr(job(csr()), ca.issuer)).toThrow(expect.objectContaining({ code }));
  });
});

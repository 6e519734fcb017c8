// Every fast-path certificate (root, intermediate, EC/RSA leaves) parsed with @peculiar/x509 and checked with openssl.
import 'reflect-metadata';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { describe, expect, it } from 'vitest';
import { issueSvid, spkiOf, generateKeySync, toPem, spiffeIdOf, NOT_BEFORE_BACKDATE_MS, type KeyAlgorithm } from '../../../src/pki/index.js';
import { makeCa, makeIntermediate } from '../../helpers/pki.js';
import { tempDir } from '../../helpers/temp-dir.js';

const tmp = tempDir('ztmesh-svid-');
function write(name: string, pem: string): string {
  const f = join(tmp, name);
  writeFileSync(f, pem);
  return f;
}
const openssl = (args: string[]) => execFileSync('openssl', args, { encoding: 'utf8' });

describe('fast-path certificates', () => {
  const now = Date.now();
  const root = makeCa('example.org', now);
  const mid = makeIntermediate(root, now);

  it('the root: CA:TRUE, keyCertSign|cRLSign, URI SAN spiffe://td; peculiar and openssl agree', () => {
    const p = new x509.X509Certificate(root.certDer);
    expect(p.getExtension(x509.BasicConstraintsExtension)!.ca).toBe(true);
    const ku = p.getExtension(x509.KeyUsagesExtension)!.usages;
    expect(ku & x509.KeyUsageFlags.keyCertSign).toBeTruthy();
    expect(ku & x509.KeyUsageFlags.cRLSign).toBeTruthy();
    const text = openssl(['x509', '-in', write('root.pem', root.certPem), '-noout', '-text']);
    expect(text).toContain('CA:TRUE');
    expect(text).toContain('URI:spiffe://example.org');
    expect(openssl(['verify', '-CAfile', join(tmp, 'root.pem'), join(tmp, 'root.pem')])).toContain(': OK');
  });

  it.each<KeyAlgorithm>(['ec-p256', 'ec-p384', 'rsa-2048'])('a %s leaf under an intermediate: the profile of docs/design.md', async (alg) => {
    const key = generateKeySync(alg);
    const id = 'spiffe://example.org/ns/default/sa/web';
    const leaf = issueSvid({ spki: spkiOf(key), spiffeId: id, dnsNames: ['web.default.svc'], nowMs: now, ttlMs: 3_600_000, rsa: alg.startsWith('rsa') }, mid.issuer);
    const p = new x509.X509Certificate(leaf.der);
    expect(p.subject).toBe('');
    const san = p.getExtension(x509.SubjectAlternativeNameExtension)!;
    expect(san.critical).toBe(true);
    expect(san.names.items.map((n) => `${n.type}:${n.value}`)).toEqual([`url:${id}`, 'dns:web.default.svc']);
    expect(p.getExtension(x509.BasicConstraintsExtension)!.ca).toBe(false);
    const eku = p.getExtension(x509.ExtendedKeyUsageExtension)!.usages;
    expect(eku).toEqual([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]);
    const ku = p.getExtension(x509.KeyUsagesExtension)!.usages;
    expect(ku & x509.KeyUsageFlags.digitalSignature).toBeTruthy();
    expect(Boolean(ku & x509.KeyUsageFlags.keyEncipherment)).toBe(alg.startsWith('rsa'));
    expect(await p.verify({ publicKey: new x509.X509Certificate(mid.certDer).publicKey, signatureOnly: true })).toBe(true);
    expect(p.notBefore.getTime()).toBe(Math.floor((now - NOT_BEFORE_BACKDATE_MS) / 1000) * 1000);

    const text = openssl(['x509', '-in', write(`leaf-${alg}.pem`, toPem(leaf.der)), '-noout', '-text']);
    expect(text.match(/URI:/g)).toHaveLength(1);
    expect(text).toContain('CA:FALSE');
    expect(text).toContain('TLS Web Server Authentication, TLS Web Client Authentication');
    write('mid.pem', mid.certPem);
    expect(openssl(['verify', '-CAfile', join(tmp, 'root.pem'), '-untrusted', join(tmp, 'mid.pem'), join(tmp, `leaf-${alg}.pem`)])).toContain(': OK');
    expect(spiffeIdOf(new X509Certificate(leaf.der))).toBe(id);
  });

  it('never outlives the issuer, and refuses to issue from an expired issuer', () => {
    const shortCa = makeCa('example.org', now, 120_000);
    const leaf = issueSvid({ spki: spkiOf(generateKeySync()), spiffeId: 'spiffe://example.org/x', nowMs: now, ttlMs: 86_400_000 }, shortCa.issuer);
    expect(leaf.notAfterMs).toBeLessThanOrEqual(shortCa.issuer.notAfterMs);
    expect(() => issueSvid({ spki: spkiOf(generateKeySync()), spiffeId: 'spiffe://example.org/x', nowMs: now + 200_000, ttlMs: 60_000 }, shortCa.issuer))
      .toThrow(expect.objectContaining({ code: 'issuer_expired' }));
  });
});

// CSR building, parsing and verification: round trip, and each refusal with its stable code.
import { generateKeyPairSync, createPrivateKey } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildCsr, generateKeySync, parseAndVerifyCsr, toPem, KEY_ALGORITHMS } from '../../../src/pki/index.js';
import { tempDir } from '../../helpers/temp-dir.js';

describe('CSR', () => {
  it.each(KEY_ALGORITHMS.filter((a) => a !== 'rsa-4096'))('round-trips a %s CSR with its SANs; openssl agrees it verifies', (alg) => {
    const key = generateKeySync(alg);
    const csr = buildCsr(key, { uris: ['spiffe://td/a'], dnsNames: ['a.example'] });
    const parsed = parseAndVerifyCsr(csr);
    expect(parsed.keyType).toBe(alg);
    expect(parsed.uris).toEqual(['spiffe://td/a']);
    expect(parsed.dnsNames).toEqual(['a.example']);
    const file = join(tempDir('ztmesh-csr-'), 'req.pem');
    writeFileSync(file, toPem(csr, 'CERTIFICATE REQUEST'));
    expect(execFileSync('openssl', ['req', '-in', file, '-noout', '-verify'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })).toBeDefined();
  });

  it.each([
    ['garbage', Buffer.from('hello')],
    ['empty', Buffer.alloc(0)],
    ['truncated', buildCsr(generateKeySync()).subarray(0, 40)],
    ['trailing bytes', Buffer.concat([buildCsr(generateKeySync()), Buffer.from([0])])],
    ['a certificate-shaped SEQUENCE of nothing', Buffer.from([0x30, 0x00])],
  ])('refuses %s as malformed_csr', (_what, bytes) => {
    expect(() => parseAndVerifyCsr(bytes)).toThrow(expect.objectContaining({ code: 'malformed_csr' }));
  });

  it('refuses a tampered CSR as bad_csr_signature', () => {
    const csr = Buffer.from(buildCsr(generateKeySync(), { uris: ['spiffe://td/a'] }));
    const at = csr.indexOf(Buffer.from('spiffe://td/a'));
    csr[at + 12] = 'b'.charCodeAt(0); // ask for spiffe://td/b after signing
    expect(() => parseAndVerifyCsr(csr)).toThrow(expect.objectContaining({ code: 'bad_csr_signature' }));
  });

  it('imports EC keys to exactly the SPKI the CSR carried, and refuses a point off the curve as malformed_csr', () => {
    for (const alg of ['ec-p256', 'ec-p384'] as const) {
      const csr = buildCsr(generateKeySync(alg));
      const parsed = parseAndVerifyCsr(csr);
      expect(parsed.publicKey.export({ format: 'der', type: 'spki' }).equals(parsed.spki)).toBe(true);
      const bad = Buffer.from(csr);
      const at = bad.indexOf(parsed.spki) + parsed.spki.length - 1;
      bad[at] ^= 0x01; // y no longer matches x
      expect(() => parseAndVerifyCsr(bad)).toThrow(expect.objectContaining({ code: 'malformed_csr' }));
    }
  });

  it('refuses RSA-1024 and P-521 keys as weak_key', () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey;
    expect(() => parseAndVerifyCsr(buildCsr(createPrivateKey(rsa.export({ format: 'pem', type: 'pkcs8' }))))).toThrow(expect.objectContaining({ code: 'weak_key' }));
    const p521 = generateKeyPairSync('ec', { namedCurve: 'P-521' }).privateKey;
    expect(() => parseAndVerifyCsr(buildCsr(p521))).toThrow(expect.objectContaining({ code: 'weak_key' }));
  });
});

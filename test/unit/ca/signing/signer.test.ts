// Signer: inline under vitest (no compiled worker next to the .ts source); the worker pool from dist/ when built.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createSigner, SignerPool } from '../../../../src/ca/signing/signer.js';
import { silentLogger } from '../../../../src/common/logger.js';
import { buildCsr, generateKeySync } from '../../../../src/pki/index.js';
import { makeCa } from '../../../helpers/pki.js';

const ca = makeCa('example.org');
const ID = 'spiffe://example.org/ns/default/sa/web';
const job = (csr: Buffer) => ({ csr, spiffeId: ID, allowedDnsNames: [], ttlMs: 600_000, nowMs: Date.now() });
const distWorker = fileURLToPath(new URL('../../../../dist/ca/signing/sign-worker.js', import.meta.url));
const built = existsSync(distWorker);
if (!built) console.log(`signer.test: skipping the worker pool case: ${distWorker} is not built (run npx tsc -p tsconfig.json)`);

describe('signer', () => {
  it('falls back to in-process signing when the worker file is not compiled', async () => {
    const s = createSigner({ workers: 2, issuer: ca.issuer, keyPem: ca.keyPem, caCertDer: ca.certDer, trustDomain: 'example.org', log: silentLogger() });
    expect(s.mode).toBe('inline');
    expect(s.health.get().ready).toBe(true);
    const res = await s.sign(job(buildCsr(generateKeySync(), { uris: [ID] })));
    expect(new X509Certificate(res.der).subjectAltName).toBe(`URI:${ID}`);
    await s.close();
  });

  it.skipIf(!built)('signs in worker threads and brings refusals back with their class and code', async () => {
    const pool = new SignerPool({ file: distWorker, size: 2, data: { keyPem: ca.keyPem, caCertDer: new Uint8Array(ca.certDer) }, log: silentLogger() });
    const results = await Promise.all(Array.from({ length: 20 }, () => pool.sign(job(buildCsr(generateKeySync(), { uris: [ID] })))));
    for (const r of results) expect(new X509Certificate(r.der).verify(ca.cert.publicKey)).toBe(true);
    await expect(pool.sign(job(Buffer.from('junk')))).rejects.toMatchObject({ name: 'PkiError', code: 'malformed_csr' });
    await expect(pool.sign(job(buildCsr(generateKeySync(), { uris: ['spiffe://example.org/other'] })))).rejects.toMatchObject({ name: 'PolicyError', code: 'identity_mismatch' });
    await pool.close();
  });

  it('an inline signer whose self-test signature fails is not healthy', () => {
    const other = makeCa('example.org');
    // The issuer signs with a key the CA certificate does not hold: the self-test catches it.
    const s = createSigner({ workers: 0, issuer: { ...ca.issuer, key: other.key }, keyPem: ca.keyPem, caCertDer: ca.certDer, trustDomain: 'example.org', log: silentLogger() });
    expect(s.health.get()).toMatchObject({ ready: false, detail: expect.stringContaining('self-test signature failed') });
  });
});

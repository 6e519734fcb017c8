// The signer's self-test: one real signature of a throw-away CSR, checked against the CA certificate.
// The CA counts as ready only once its signer passed it (at start, and for every rebuilt signing worker).
import { X509Certificate } from 'node:crypto';
import { PkiError } from '../../common/errors.js';
import { buildCsr, generateKeySync } from '../../pki/index.js';
import type { SignJob, SignResult } from './signing-policy.js';

/** Lifetime of the self-test certificate; it is never handed out. */
export const SELF_TEST_TTL_MS = 60_000;

/** Makes the self-test for one CA: a CSR made once, and the check of what came back. */
export function makeSelfTest(trustDomain: string, caCertDer: Buffer): { job(nowMs: number): SignJob; check(result: SignResult): void } {
  // An ordinary workload path, outside the IDs the CA keeps for itself.
  const spiffeId = `spiffe://${trustDomain}/ztmesh/signer-self-test`;
  const csr = buildCsr(generateKeySync('ec-p256'), { uris: [spiffeId], dnsNames: [] });
  const caKey = new X509Certificate(caCertDer).publicKey;
  return {
    job: (nowMs) => ({ csr, spiffeId, allowedDnsNames: [], ttlMs: SELF_TEST_TTL_MS, nowMs }),
    check(result) {
      let leaf: X509Certificate;
      try {
        leaf = new X509Certificate(result.der);
      } catch (e) {
        throw new PkiError('self_test_failed', 'the signer returned a certificate that cannot be parsed', { cause: e });
      }
      if (!leaf.verify(caKey)) throw new PkiError('self_test_failed', 'the signer returned a certificate the CA key did not sign');
      if (leaf.subjectAltName !== `URI:${spiffeId}`) throw new PkiError('self_test_failed', `the signer returned a certificate for ${leaf.subjectAltName ?? 'no SAN'}`);
    },
  };
}

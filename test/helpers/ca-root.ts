// The signing material of a test CA's state dir, for tests that must make certificates the CA itself would have
// made (e.g. an SVID issued before a policy change, or one held by an impostor that stole nothing but a workload key).
import { readFileSync } from 'node:fs';
import type { X509Certificate } from 'node:crypto';
import type { IssuerMaterial } from '../../src/pki/certificate.js';
import { join } from 'node:path';
import { certsFromPem, issueSvid, loadIssuer, loadPrivateKey, generateKeySync, privateKeyPem, spkiOf, toPem } from '../../src/pki/index.js';
import type { TestLeaf } from './pki.js';

/** The signing material in `dir` (ca.pem + ca.key), e.g. to cross-sign a root as `ztmesh ca root prepare` does. */
export function issuerFromCaDir(dir: string): IssuerMaterial & { cert: X509Certificate } {
  const certDer = certsFromPem(readFileSync(join(dir, 'ca.pem'), 'utf8'), 'ca.pem')[0]!;
  return loadIssuer(certDer, loadPrivateKey(readFileSync(join(dir, 'ca.key')), 'ca.key'));
}

/** Issues a leaf SVID for `spiffeId` with the CA key in `dir` (ca.pem + ca.key), as `ztmesh ca serve` would. */
export function issueFromCaDir(dir: string, spiffeId: string, opts: { ttlMs?: number; dnsNames?: string[] } = {}): TestLeaf {
  const issuer = issuerFromCaDir(dir);
  const key = generateKeySync();
  const issued = issueSvid({ spki: spkiOf(key), spiffeId, nowMs: Date.now(), ttlMs: opts.ttlMs ?? 3_600_000, dnsNames: opts.dnsNames ?? [] }, issuer);
  return { spiffeId, key, keyPem: privateKeyPem(key), certDer: issued.der, certPem: toPem(issued.der), serialHex: issued.serialHex };
}

// The signing material of a test CA's state dir, for tests that must make certificates the CA itself would have
// made (e.g. an SVID issued before a policy change, or one held by an impostor that stole nothing but a workload key).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { certsFromPem, issueSvid, loadIssuer, loadPrivateKey, generateKeySync, privateKeyPem, spkiOf, toPem } from '../../src/pki/index.js';
import type { TestLeaf } from './pki.js';

/** Issues a leaf SVID for `spiffeId` with the CA key in `dir` (ca.pem + ca.key), as `ztmesh ca serve` would. */
export function issueFromCaDir(dir: string, spiffeId: string, opts: { ttlMs?: number; dnsNames?: string[] } = {}): TestLeaf {
  const certDer = certsFromPem(readFileSync(join(dir, 'ca.pem'), 'utf8'), 'ca.pem')[0]!;
  const issuer = loadIssuer(certDer, loadPrivateKey(readFileSync(join(dir, 'ca.key')), 'ca.key'));
  const key = generateKeySync();
  const issued = issueSvid({ spki: spkiOf(key), spiffeId, nowMs: Date.now(), ttlMs: opts.ttlMs ?? 3_600_000, dnsNames: opts.dnsNames ?? [] }, issuer);
  return { spiffeId, key, keyPem: privateKeyPem(key), certDer: issued.der, certPem: toPem(issued.der), serialHex: issued.serialHex };
}

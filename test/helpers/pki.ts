// Certificates made at test time: a trust domain's root, leaf SVIDs, and foreign or expired variants.
import { X509Certificate, type KeyObject } from 'node:crypto';
import {
  createRootCa, generateKeySync, issueSvid, loadIssuer, spkiOf, toPem, privateKeyPem, createIntermediateCa,
  type KeyAlgorithm,
} from '../../src/pki/index.js';
import type { IssuerMaterial } from '../../src/pki/certificate.js';

export interface TestCa {
  trustDomain: string;
  key: KeyObject;
  certDer: Buffer;
  certPem: string;
  keyPem: string;
  cert: X509Certificate;
  issuer: IssuerMaterial;
}

/** A fresh root CA for `trustDomain`. */
export function makeCa(trustDomain = 'cluster.local', nowMs = Date.now(), ttlMs?: number): TestCa {
  const key = generateKeySync();
  const certDer = createRootCa({ trustDomain, key, nowMs, ...(ttlMs ? { ttlMs } : {}) });
  const issuer = loadIssuer(certDer, key);
  return { trustDomain, key, certDer, certPem: toPem(certDer), keyPem: privateKeyPem(key), cert: issuer.cert, issuer };
}

/** An intermediate under `parent` (for plug-in CA tests). */
export function makeIntermediate(parent: TestCa, nowMs = Date.now()): TestCa {
  const key = generateKeySync();
  const certDer = createIntermediateCa({ trustDomain: parent.trustDomain, key, parent: parent.issuer, nowMs, ttlMs: 365 * 86_400_000 });
  const issuer = loadIssuer(certDer, key);
  return { trustDomain: parent.trustDomain, key, certDer, certPem: toPem(certDer), keyPem: privateKeyPem(key), cert: issuer.cert, issuer };
}

export interface TestLeaf {
  spiffeId: string;
  key: KeyObject;
  keyPem: string;
  certDer: Buffer;
  certPem: string;
  serialHex: string;
}

/** A leaf SVID for `spiffeId` signed by `ca`. nowMs and ttlMs let tests make expired certificates. */
export function makeLeaf(ca: TestCa, spiffeId: string, opts: { nowMs?: number; ttlMs?: number; alg?: KeyAlgorithm; dnsNames?: string[] } = {}): TestLeaf {
  const key = generateKeySync(opts.alg ?? 'ec-p256');
  const issued = issueSvid(
    { spki: spkiOf(key), spiffeId, nowMs: opts.nowMs ?? Date.now(), ttlMs: opts.ttlMs ?? 3_600_000, dnsNames: opts.dnsNames ?? [] },
    ca.issuer,
  );
  return { spiffeId, key, keyPem: privateKeyPem(key), certDer: issued.der, certPem: toPem(issued.der), serialHex: issued.serialHex };
}

// The credential types the identity part produces and the data path, admin and webhook consume.
// A Svid and a TrustBundle are immutable snapshots: rotation builds new ones and swaps a reference.
import { createHash, X509Certificate, type KeyObject } from 'node:crypto';
import { certsToPem } from '../pki/pem.js';

/** One workload certificate with its key, built completely before it is published. */
export interface Svid {
  spiffeId: string;
  /** Never logged, never serialized except to TLS or a 0600 file. */
  key: KeyObject;
  keyPem: string;
  /** DER, leaf first, root excluded (as the CA sends it). */
  chainDer: Buffer[];
  chainPem: string;
  serialHex: string;
  notBeforeMs: number;
  notAfterMs: number;
  /** SHA-256 of the leaf's SubjectPublicKeyInfo, to show that every rotation uses a fresh key. */
  publicKeySha256: string;
}

/** A set of trusted roots with a sequence number that grows on every change. */
export interface TrustBundle {
  trustDomain: string;
  rootsDer: Buffer[];
  rootsPem: string;
  roots: X509Certificate[];
  sequence: number;
}

/** Identity states of DESIGN.md. */
export type IdentityState = 'initializing' | 'available' | 'renewing' | 'unavailable' | 'expired';

/** Builds a TrustBundle from DER roots. */
export function makeTrustBundle(trustDomain: string, rootsDer: readonly Buffer[], sequence: number): TrustBundle {
  return {
    trustDomain,
    rootsDer: [...rootsDer],
    rootsPem: certsToPem(rootsDer),
    roots: rootsDer.map((d) => new X509Certificate(d)),
    sequence,
  };
}

/** SHA-256 hex of a root's DER, as /status shows it. */
export function certFingerprint(der: Buffer): string {
  return createHash('sha256').update(der).digest('hex');
}

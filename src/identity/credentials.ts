// The credential types the identity part produces and the data path, admin and webhook consume.
// A Svid and a TrustBundle are immutable snapshots: rotation builds new ones and swaps a reference.
import { X509Certificate, type KeyObject } from 'node:crypto';
import type { IdentityState } from '../common/mesh.js';
import { certsToPem } from '../pki/pem.js';

export type { IdentityState } from '../common/mesh.js';

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
export { certFingerprint } from '../pki/fingerprint.js';

/** What the data path, admin and webhook see of the identity at one instant. */
export interface IdentitySnapshot {
  state: IdentityState;
  /** The last good SVID; present in `available`, `renewing` and `unavailable`, and kept (expired) in `expired`. */
  svid?: Svid;
  /** The trust bundle in force (bootstrap file first, then the CA's stream). */
  bundle?: TrustBundle;
}

/** The one thing consumers depend on: current credentials plus change notifications. */
export interface IdentitySource {
  current(): IdentitySnapshot;
  /** Calls `listener` at once with the current snapshot, then on every change. Returns unsubscribe. */
  subscribe(listener: (snapshot: IdentitySnapshot) => void): () => void;
}

/** True when the snapshot holds an SVID that is valid at `nowMs` and chains to the bundle (the fail-closed check). */
export function hasValidSvid(snapshot: IdentitySnapshot, nowMs: number): boolean {
  const s = snapshot.svid;
  return !!s && snapshot.state !== 'expired' && snapshot.state !== 'initializing' && snapshot.state !== 'untrusted' && nowMs >= s.notBeforeMs - 60_000 && nowMs < s.notAfterMs;
}

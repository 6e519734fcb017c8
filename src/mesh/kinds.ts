// The mesh stream's vocabulary (docs/design.md "Mesh stream"): the kinds of mesh data, how versions are spelt, the
// modes and policies a kind carries, and the bounds both ends enforce. Every part reads them from here.
import { createHash } from 'node:crypto';

/** The kinds of mesh data one stream carries. A new kind is a new name here and a new body in mesh.proto. */
export const MESH_KINDS = {
  trustBundle: 'trust-bundle',
  membership: 'membership',
  config: 'config',
  policy: 'policy',
} as const;
export type MeshKind = (typeof MESH_KINDS)[keyof typeof MESH_KINDS];
export const KNOWN_KINDS: ReadonlySet<string> = new Set(Object.values(MESH_KINDS));
export const isKnownKind = (k: string): k is MeshKind => KNOWN_KINDS.has(k);

/** How a transparent inbound treats a client that does not start TLS (config `transparent.inboundMode`). */
export const INBOUND_MODES = ['strict', 'permissive'] as const;
export type InboundMode = (typeof INBOUND_MODES)[number];
/** The mesh-wide default when neither the sidecar's config nor the CA names one: fail closed. */
export const DEFAULT_INBOUND_MODE: InboundMode = 'strict';

/** What a transparent outbound does with a destination that is not meshed (config `transparent.outboundPolicy`). */
export const OUTBOUND_POLICIES = ['passthrough', 'registry-only'] as const;
export type OutboundPolicy = (typeof OUTBOUND_POLICIES)[number];
export const DEFAULT_OUTBOUND_POLICY: OutboundPolicy = 'passthrough';

/** Bounds of what one peer may send or make either end hold. */
export const MESH_LIMITS = {
  /** Addresses in one Subscribe or Announce. */
  maxAnnounceAddresses: 16,
  /** Kinds named in one Subscribe. */
  maxKinds: 16,
  /** Length of a kind, a version, a key, an error code or detail, a sidecar version. */
  maxTokenLength: 256,
  /** Per destination: CIDRs, ports and expected identities. */
  maxCidrs: 64,
  maxPorts: 1024,
  maxIdentities: 64,
  /** JWT authorities in one trust bundle (a CA publishes three or four; a sidecar keeps at most 32). */
  maxJwtAuthorities: 64,
  /** Certificates in one JWT authority's signer chain. */
  maxSignerChain: 8,
} as const;

/**
 * Versions of kinds the CA counts itself (membership, config): `<instance>-<n>`, the instance random per CA process,
 * so that a delta is only ever relative to what this process sent. Pure.
 */
export function formatVersion(instance: string, n: number): string {
  return `${instance}-${n}`;
}

/** The counter of a `<instance>-<n>` version of this instance, or undefined (another instance, or not a version). */
export function versionCounter(instance: string, version: string): number | undefined {
  if (!version.startsWith(`${instance}-`)) return undefined;
  const text = version.slice(instance.length + 1);
  return /^\d{1,15}$/.test(text) ? Number(text) : undefined;
}

/** Hex digits of the JWT part of a trust-bundle version. */
export const JWT_VERSION_HEX = 12;

/**
 * The trust-bundle kind's version: the X.509 bundle's sequence, then, when the bundle carries JWT authorities, "." and
 * the first 12 hex of SHA-256 over their key IDs and notAfter seconds (sorted by key ID): "7" or "7.3f9a1c2b7d0e".
 * Equal on every replica (they read the same files and derive the same JWT keys; the authorities' signatures, which
 * differ, are left out), new when either the roots or the JWT keys change, and the sequence stays readable. Pure.
 */
export function trustBundleVersion(sequence: string, jwtAuthorities: readonly { keyId: string; notAfter: string }[]): string {
  if (jwtAuthorities.length === 0) return sequence;
  const facts = jwtAuthorities.map((a) => `${a.keyId} ${a.notAfter}`).sort();
  return `${sequence}.${createHash('sha256').update(facts.join('\n')).digest('hex').slice(0, JWT_VERSION_HEX)}`;
}

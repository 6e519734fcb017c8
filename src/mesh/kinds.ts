// The mesh stream's vocabulary (docs/design.md "Mesh stream"): the kinds of mesh data, how versions are spelt, the
// modes and policies a kind carries, and the bounds both ends enforce. Every part reads them from here.

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

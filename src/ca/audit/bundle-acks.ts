// Joins a replica's fleet view with its live mesh streams (ca/mesh/stream-registry.ts): which trust-bundle version
// each sidecar acknowledged, per SPIFFE ID, so that a root rotation's "every sidecar holds both roots" step is one
// `ztmesh ca status` (docs/ca.md "Root rotation"). Pure.
//
// Invariants: one entry per live stream (two pods of one service account are two entries); a stream that has not
// acknowledged any bundle yet counts as `-`; IDs streaming to this replica are listed even when another replica
// issued their certificate (a merged view attaches them to that replica's row).
import { MESH_KINDS } from '../../mesh/kinds.js';
import type { MeshReport } from '../mesh/stream-registry.js';
import type { IdentitiesReport } from './issued-ids.js';

/** What a stream that has acknowledged no trust bundle yet shows. */
export const NOT_ACKED = '-';

/** `report` with the trust-bundle versions its replica's live streams acknowledged. */
export function withBundleAcks(report: IdentitiesReport, mesh: MeshReport): IdentitiesReport {
  const bundleAcks: Record<string, string[]> = {};
  for (const s of mesh.sidecars) (bundleAcks[s.spiffeId] ??= []).push(s.kinds[MESH_KINDS.trustBundle]?.acked ?? NOT_ACKED);
  const kind = mesh.kinds[MESH_KINDS.trustBundle];
  return {
    ...report,
    trustBundle: { version: kind?.version ?? NOT_ACKED, streams: mesh.streams, acked: { ...(kind?.acked ?? {}) } },
    bundleAcks,
  };
}

/** Several replicas' summaries as one: the highest version served, streams and acknowledgements added up. */
export function mergeBundleAcks(reports: readonly IdentitiesReport[]): Pick<IdentitiesReport, 'trustBundle' | 'bundleAcks'> {
  const withAcks = reports.filter((r) => r.trustBundle);
  if (withAcks.length === 0) return {};
  const bundleAcks: Record<string, string[]> = {};
  const acked: Record<string, number> = {};
  let version = NOT_ACKED;
  let streams = 0;
  for (const r of withAcks) {
    const t = r.trustBundle!;
    if (version === NOT_ACKED || Number(t.version) > Number(version)) version = t.version;
    streams += t.streams;
    for (const [v, n] of Object.entries(t.acked)) acked[v] = (acked[v] ?? 0) + n;
    for (const [id, versions] of Object.entries(r.bundleAcks ?? {})) (bundleAcks[id] ??= []).push(...versions);
  }
  return { trustBundle: { version, streams, acked }, bundleAcks };
}

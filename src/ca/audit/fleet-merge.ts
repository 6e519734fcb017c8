// Merges the fleet views of several CA replicas into one (`ztmesh ca status --k8s`): sidecars spread their calls over
// the replicas, so each ID's latest certificate may come from any of them. Pure.
//
// Invariants: one row per SPIFFE ID, from the replica that issued its latest certificate (ties: the later serial
// wins, so the answer does not depend on the order replicas answered); issuances in the last hour are summed over
// the replicas; each ID's state is recomputed at `nowMs` from that certificate.
import { mergeBundleAcks } from './bundle-acks.js';
import { byUrgency, idState, type IdentitiesReport, type IssuedIdentity } from './issued-ids.js';

/** One replica as read: its report, or why it could not be read. */
export interface ReplicaView {
  replica: string;
  report?: IdentitiesReport;
  error?: string;
}

/** A view gathered from several replicas: the rows, and what each replica contributed. */
export interface FleetReport extends IdentitiesReport {
  scope: 'cluster';
  replicas: { replica: string; tracked?: number; rebuilt?: boolean; error?: string }[];
  /** Replicas not asked, and why (a pod not Running). */
  skipped?: { replica: string; why: string }[];
}

/** The merged view of `views` at `nowMs`. */
export function mergeReplicaViews(views: readonly ReplicaView[], nowMs: number): FleetReport {
  const latest = new Map<string, IssuedIdentity>();
  const lastHour = new Map<string, number>();
  let windowSeconds = 0;
  let limit = 0;
  let evicted = 0;
  for (const v of views) {
    if (!v.report) continue;
    windowSeconds = Math.max(windowSeconds, v.report.windowSeconds);
    limit += v.report.limit;
    evicted += v.report.evicted;
    for (const row of v.report.identities) {
      const mine = { ...row, replica: row.replica ?? v.replica };
      lastHour.set(row.spiffeId, (lastHour.get(row.spiffeId) ?? 0) + row.issuancesLastHour);
      const held = latest.get(row.spiffeId);
      const newer = !held || Date.parse(mine.issuedAt) > Date.parse(held.issuedAt)
        || (mine.issuedAt === held.issuedAt && mine.serial > held.serial);
      if (newer) latest.set(row.spiffeId, mine);
    }
  }
  const identities = [...latest.values()].map((row) => ({
    ...row,
    state: idState(Date.parse(row.issuedAt), Date.parse(row.notAfter), nowMs),
    issuancesLastHour: lastHour.get(row.spiffeId) ?? row.issuancesLastHour,
  })).sort(byUrgency);
  return {
    scope: 'cluster',
    replica: views.map((v) => v.replica).join(','),
    replicas: views.map((v) => (v.report
      ? { replica: v.replica, tracked: v.report.tracked, rebuilt: !!v.report.rebuiltFrom }
      : { replica: v.replica, error: v.error ?? 'not read' })),
    generatedAt: new Date(nowMs).toISOString(), windowSeconds, limit, tracked: identities.length, evicted, identities,
    ...mergeBundleAcks(views.flatMap((v) => (v.report ? [v.report] : []))),
  };
}

// The fleet view of one CA replica: every SPIFFE ID it issued to within the last max TTL, its last certificate,
// how it was attested and how often it was issued in the last hour. Bounded: at most `maxIds` IDs, oldest dropped.
// Filled by every issuance, and at start by replaying the replica's issuance log (fleet-rebuild.ts).
import type { Clock } from '../../common/clock.js';
import type { Issued } from './issuance-events.js';

/** IDs tracked at once; beyond it the ID issued to longest ago is forgotten (and counted). About 0.5 KB each. */
export const DEFAULT_MAX_TRACKED_IDS = 10_000;
/**
 * A sidecar renews between 45% and 55% of its certificate's lifetime (src/identity/refresh.ts, half-life ±10%
 * jitter); an ID with no new certificate past 55% is overdue.
 */
export const OVERDUE_FRACTION = 0.55;
const MINUTE_MS = 60_000;
const HOUR_MINUTES = 60;

/**
 * How an ID proved itself: the attestor's name, the same in the CA's log, the issuance log, GET /identities and the
 * docs (`join_token`, `renewal` with its current SVID, `k8s_token`).
 */
export type IssueMethod = 'join_token' | 'renewal' | 'k8s_token' | string;

/** Where an ID stands: renewed on time, past its renewal point, or past the end of its last certificate. */
export type IdState = 'ok' | 'overdue' | 'expired';

/** One row of GET /identities. */
export interface IssuedIdentity {
  /** The replica that issued the last certificate (in a view gathered from several replicas). */
  replica?: string;
  spiffeId: string;
  state: IdState;
  serial: string;
  method: IssueMethod;
  peer: string;
  issuedAt: string;
  notAfter: string;
  /** When a sidecar renews at the latest (OVERDUE_FRACTION of the certificate's lifetime). */
  renewBy: string;
  issuancesLastHour: number;
}

/** The trust bundle a replica serves now and what its live mesh streams acknowledged of it (bundle-acks.ts). */
export interface BundleAckSummary {
  /** The bundle sequence this replica serves now. */
  version: string;
  /** Live mesh streams (sidecars and webhooks) on this replica. */
  streams: number;
  /** Streams per acknowledged version. */
  acked: Record<string, number>;
}

/** Where a replica's view started from when it started: its issuance log, replayed, or nothing. */
export interface RebuiltFrom {
  /** The --audit-log file (FILE.1 read first). */
  auditLog: string;
  /** `issued` records replayed, those within the window. */
  records: number;
  /** IDs the view held after the replay. */
  identities: number;
}

/** GET /identities: what this replica issued, most urgent first; `ztmesh ca status --k8s` merges several into one. */
export interface IdentitiesReport {
  /** `replica`: one replica's own view (sidecars spread their calls over the replicas); `cluster`: merged. */
  scope: 'replica' | 'cluster';
  /** The replica's name, or for a merged view the names of the replicas read, comma-separated. */
  replica: string;
  /** null: the replica keeps no issuance log, so its view started empty; a merged view leaves it out. */
  rebuiltFrom?: RebuiltFrom | null;
  /** The trust bundle served and what the live mesh streams acknowledged of it (bundle-acks.ts; absent without streams support). */
  trustBundle?: BundleAckSummary;
  /** Per SPIFFE ID, the trust-bundle version each of its live mesh streams acknowledged (`-`: none yet). */
  bundleAcks?: Record<string, string[]>;
  generatedAt: string;
  /** IDs issued within this window (the CA's max TTL). */
  windowSeconds: number;
  limit: number;
  tracked: number;
  /** IDs forgotten because the limit was reached, since the replica started. */
  evicted: number;
  identities: IssuedIdentity[];
}

interface Entry {
  spiffeId: string;
  serial: string;
  method: IssueMethod;
  peer: string;
  issuedAtMs: number;
  notAfterMs: number;
  /** Issuances per minute of the last hour, a ring indexed by minute number. */
  perMinute: Uint16Array;
  lastMinute: number;
}

/** Whether `v` has the shape of one replica's GET /identities answer (enough of it to show and merge). */
export function isReplicaReport(v: unknown): v is IdentitiesReport {
  const r = v as Partial<IdentitiesReport> | null;
  return !!r && typeof r === 'object' && r.scope === 'replica' && Array.isArray(r.identities);
}

const STATE_ORDER: Record<IdState, number> = { overdue: 0, ok: 1, expired: 2 };

/** When a sidecar renews at the latest: OVERDUE_FRACTION of its certificate's lifetime. */
export function renewByMs(issuedAtMs: number, notAfterMs: number): number {
  return issuedAtMs + Math.round((notAfterMs - issuedAtMs) * OVERDUE_FRACTION);
}

/** Where an ID stands at `nowMs`, from its last certificate. Pure. */
export function idState(issuedAtMs: number, notAfterMs: number, nowMs: number): IdState {
  return nowMs >= notAfterMs ? 'expired' : nowMs >= renewByMs(issuedAtMs, notAfterMs) ? 'overdue' : 'ok';
}

/** Most urgent first: overdue, then by expiry (soonest first), expired ones last (most recent first). */
export function byUrgency(a: IssuedIdentity, b: IssuedIdentity): number {
  const [an, bn] = [Date.parse(a.notAfter), Date.parse(b.notAfter)];
  return STATE_ORDER[a.state] - STATE_ORDER[b.state] || (a.state === 'expired' ? bn - an : an - bn);
}

/** Records issuances (as a subscriber of the CA's issuance events, issuance-events.ts) and reports them. */
export class IssuedIdentities {
  /** Map order is issuance order: the first entry is the one issued to longest ago. */
  private readonly entries = new Map<string, Entry>();
  private evicted = 0;
  private rebuiltFrom: RebuiltFrom | null = null;

  constructor(private readonly opts: { clock: Clock; windowMs: number; replica: string; maxIds?: number }) {}

  private get limit(): number {
    return this.opts.maxIds ?? DEFAULT_MAX_TRACKED_IDS;
  }

  /** Says where the view started from (fleet-rebuild.ts, once at start). */
  rebuilt(from: RebuiltFrom): void {
    this.rebuiltFrom = from;
  }

  /** IDs tracked now. */
  get size(): number {
    return this.entries.size;
  }

  /** Notes one issued certificate. */
  record(issued: Issued): void {
    const minute = Math.floor(issued.atMs / MINUTE_MS);
    const previous = this.entries.get(issued.spiffeId);
    const perMinute = previous?.perMinute ?? new Uint16Array(HOUR_MINUTES);
    if (previous) advanceRing(perMinute, previous.lastMinute, minute);
    perMinute[minute % HOUR_MINUTES] = Math.min(0xffff, perMinute[minute % HOUR_MINUTES]! + 1);
    this.entries.delete(issued.spiffeId);
    this.entries.set(issued.spiffeId, {
      spiffeId: issued.spiffeId, serial: issued.serial, method: issued.method, peer: issued.peer,
      issuedAtMs: issued.atMs, notAfterMs: issued.notAfterMs, perMinute, lastMinute: minute,
    });
    this.prune(issued.atMs);
    while (this.entries.size > this.limit) {
      this.entries.delete(this.entries.keys().next().value!);
      this.evicted++;
    }
  }

  /** Drops IDs last issued to before the window. */
  private prune(nowMs: number): void {
    for (const [id, e] of this.entries) {
      if (e.issuedAtMs >= nowMs - this.opts.windowMs) break;
      this.entries.delete(id);
    }
  }

  /** The report, overdue IDs first, then by expiry (soonest first), expired ones last. */
  report(): IdentitiesReport {
    const now = this.opts.clock.now();
    this.prune(now);
    const minute = Math.floor(now / MINUTE_MS);
    const rows = [...this.entries.values()].map((e): IssuedIdentity => {
      const recent = e.perMinute.slice();
      advanceRing(recent, e.lastMinute, minute);
      return {
        spiffeId: e.spiffeId, state: idState(e.issuedAtMs, e.notAfterMs, now), serial: e.serial, method: e.method, peer: e.peer,
        issuedAt: new Date(e.issuedAtMs).toISOString(), notAfter: new Date(e.notAfterMs).toISOString(),
        renewBy: new Date(renewByMs(e.issuedAtMs, e.notAfterMs)).toISOString(), issuancesLastHour: recent.reduce((a, b) => a + b, 0),
      };
    });
    rows.sort(byUrgency);
    return {
      scope: 'replica', replica: this.opts.replica, rebuiltFrom: this.rebuiltFrom, generatedAt: new Date(now).toISOString(),
      windowSeconds: Math.round(this.opts.windowMs / 1000), limit: this.limit, tracked: rows.length, evicted: this.evicted, identities: rows,
    };
  }
}

/** Clears the ring's minutes after `from` up to and including `to` (they had no issuance yet). */
function advanceRing(ring: Uint16Array, from: number, to: number): void {
  if (to - from >= HOUR_MINUTES) ring.fill(0);
  else for (let m = from + 1; m <= to; m++) ring[m % HOUR_MINUTES] = 0;
}

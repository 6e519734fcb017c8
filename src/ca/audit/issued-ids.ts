// The fleet view of one CA replica: every SPIFFE ID it issued to within the last max TTL, its last certificate,
// how it was attested and how often it was issued in the last hour. Bounded: at most `maxIds` IDs, oldest dropped.
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

/** How an ID proved itself, as operators say it: a join token, its current SVID, or a Kubernetes token. */
export type IssueMethod = 'token' | 'svid' | 'k8s' | string;

const METHOD_NAMES: Record<string, IssueMethod> = { join_token: 'token', renewal: 'svid', k8s_token: 'k8s' };

/** Where an ID stands: renewed on time, past its renewal point, or past the end of its last certificate. */
export type IdState = 'ok' | 'overdue' | 'expired';

/** One row of GET /identities. */
export interface IssuedIdentity {
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

/** GET /identities: what this replica issued, most urgent first. */
export interface IdentitiesReport {
  /** Every replica serves its own view: sidecars spread their calls over the replicas. */
  scope: 'replica';
  replica: string;
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

const STATE_ORDER: Record<IdState, number> = { overdue: 0, ok: 1, expired: 2 };

/** Records issuances (as a subscriber of the CA's issuance events, issuance-events.ts) and reports them. */
export class IssuedIdentities {
  /** Map order is issuance order: the first entry is the one issued to longest ago. */
  private readonly entries = new Map<string, Entry>();
  private evicted = 0;

  constructor(private readonly opts: { clock: Clock; windowMs: number; replica: string; maxIds?: number }) {}

  private get limit(): number {
    return this.opts.maxIds ?? DEFAULT_MAX_TRACKED_IDS;
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
      spiffeId: issued.spiffeId, serial: issued.serial, method: METHOD_NAMES[issued.method] ?? issued.method, peer: issued.peer,
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
    const rows = [...this.entries.values()].map((e): IssuedIdentity & { notAfterMs: number } => {
      const renewByMs = e.issuedAtMs + Math.round((e.notAfterMs - e.issuedAtMs) * OVERDUE_FRACTION);
      const state: IdState = now >= e.notAfterMs ? 'expired' : now >= renewByMs ? 'overdue' : 'ok';
      const recent = e.perMinute.slice();
      advanceRing(recent, e.lastMinute, minute);
      return {
        spiffeId: e.spiffeId, state, serial: e.serial, method: e.method, peer: e.peer,
        issuedAt: new Date(e.issuedAtMs).toISOString(), notAfter: new Date(e.notAfterMs).toISOString(),
        renewBy: new Date(renewByMs).toISOString(), issuancesLastHour: recent.reduce((a, b) => a + b, 0), notAfterMs: e.notAfterMs,
      };
    });
    rows.sort((a, b) => STATE_ORDER[a.state] - STATE_ORDER[b.state] || (a.state === 'expired' ? b.notAfterMs - a.notAfterMs : a.notAfterMs - b.notAfterMs));
    return {
      scope: 'replica', replica: this.opts.replica, generatedAt: new Date(now).toISOString(), windowSeconds: Math.round(this.opts.windowMs / 1000),
      limit: this.limit, tracked: rows.length, evicted: this.evicted,
      identities: rows.map(({ notAfterMs: _drop, ...row }) => row),
    };
  }
}

/** Clears the ring's minutes after `from` up to and including `to` (they had no issuance yet). */
function advanceRing(ring: Uint16Array, from: number, to: number): void {
  if (to - from >= HOUR_MINUTES) ring.fill(0);
  else for (let m = from + 1; m <= to; m++) ring[m % HOUR_MINUTES] = 0;
}

// Builds the /status document from the running parts: identity manager, CA reachability, bundle watcher, listeners.
// Pure over its inputs and the clock, so the shape is unit-tested without servers.
import { ZTMESH_VERSION } from '../common/version.js';
import { isoTime } from '../common/clock.js';
import type { BundleWatcherStatus } from '../identity/bundle-watcher.js';
import type { CaContact } from '../identity/ca-reachability.js';
import { TOKEN_PATH } from '../common/mesh.js';
import { certFingerprint, hasValidSvid, type IdentitySnapshot } from '../identity/credentials.js';
import type { ManagerStats } from '../identity/manager.js';
import type { ReadinessReport } from '../admin/probe-routes.js';
import type { AuthzStatus, ListenerStatus, MeshStatus, SidecarStatus, TunnelPoolStatus, WorkloadApiStatus } from '../admin/status-types.js';
import type { PolicyStatus } from './mesh/sidecar-policy.js';
import type { MeshClientStatus } from '../identity/mesh-client.js';
import type { MembershipStatus } from './mesh/sidecar-membership.js';
import type { MeshTrafficStatus } from './mesh/mesh-traffic.js';
import { certNotAfterMs } from '../pki/validity.js';

/** The CA's refusals of a join token: the token in the token file is spent, unknown (pruned) or expired. */
export const SPENT_TOKEN_CODES: ReadonlySet<string> = new Set(['token_reused', 'unknown_token', 'token_expired']);

const iso = (ms: number | null | undefined): string | null => (ms === null || ms === undefined ? null : isoTime(ms));

/** Seconds of validity left while the CA is unreachable; null while it answers or without an SVID. */
export function outageBudgetSeconds(snapshot: IdentitySnapshot, ca: CaContact, nowMs: number): number | null {
  if (ca.reachable || !snapshot.svid) return null;
  return Math.max(0, Math.floor((snapshot.svid.notAfterMs - nowMs) / 1000));
}

/**
 * One line saying what to do when the sidecar cannot recover by itself: outside Kubernetes (a token file other than
 * the projected token, which the kubelet renews), without a usable certificate, and the CA refusing the join token.
 * Null otherwise. Pure.
 */
export function strandedAction(i: { snapshot: IdentitySnapshot; ca: CaContact; tokenFile: string; spiffeId?: string | undefined; nowMs: number }): string | null {
  const code = i.ca.refusal?.code;
  if (!code || !SPENT_TOKEN_CODES.has(code) || i.tokenFile === TOKEN_PATH || hasValidSvid(i.snapshot, i.nowMs)) return null;
  const why = i.snapshot.state === 'expired' ? 'the certificate expired'
    : i.snapshot.state === 'untrusted' ? 'the certificate no longer chains to the trust bundle' : 'there is no certificate yet';
  const id = i.snapshot.svid?.spiffeId ?? i.spiffeId ?? '<its SPIFFE ID>';
  return `stranded: ${why} and the CA refuses the join token in ${i.tokenFile} (${code}); mint a new one, which the sidecar picks up without a restart: `
    + `ztmesh ca token create --dir <the CA's --dir> --spiffe-id ${id} --out ${i.tokenFile}`;
}

export interface StatusInputs {
  snapshot: IdentitySnapshot;
  stats: ManagerStats;
  ca: CaContact;
  addresses: string[];
  bundleStream: BundleWatcherStatus & Partial<Pick<MeshClientStatus, 'protocol' | 'kinds'>>;
  listeners: ListenerStatus[];
  tunnelPools: TunnelPoolStatus[];
  /** The Workload API and certificate files, null when neither is configured. */
  workloadApi?: WorkloadApiStatus | null;
  /** What /readyz answers now: `ztmesh status` exits on it, so the two agree. */
  readiness: ReadinessReport;
  tokenFile: string;
  spiffeId?: string | undefined;
  /** Transparent mode's membership, inbound mode, outbound policy and plain traffic (absent in explicit mode). */
  transparent?: { membership: MembershipStatus; inboundMode: { mode: string; source: string }; outboundPolicy: string; traffic: MeshTrafficStatus | undefined };
  /** The authorization policy in force, and whether a change closes what it no longer allows. */
  authz?: { policy: PolicyStatus; revokeEstablished: boolean };
  nowMs: number;
}

/** /status `authz`. */
export function authzStatus(a: NonNullable<StatusInputs['authz']>): AuthzStatus {
  const p = a.policy;
  return {
    state: p.state, source: p.source, version: p.version, receivedAt: iso(p.receivedAtMs), defaultPolicy: p.defaultPolicy, policies: p.policies, dryRun: p.dryRun,
    revokeEstablished: a.revokeEstablished,
    lastRefusal: p.lastRefusal ? { code: p.lastRefusal.code, detail: p.lastRefusal.detail, version: p.lastRefusal.version, at: isoTime(p.lastRefusal.atMs) } : null,
  };
}

/** /status `mesh`. */
export function meshStatus(i: Pick<StatusInputs, 'bundleStream' | 'transparent'>): MeshStatus {
  const t = i.transparent;
  const m = t?.membership;
  return {
    kinds: Object.fromEntries(Object.entries(i.bundleStream.kinds ?? {}).map(([k, v]) => [k, {
      version: v.version, at: isoTime(v.atMs),
      lastRefusal: v.lastRefusal ? { code: v.lastRefusal.code, detail: v.lastRefusal.detail, version: v.lastRefusal.version, at: isoTime(v.lastRefusal.atMs) } : null,
    }])),
    membership: m ? {
      state: m.state, source: m.source, version: m.version, entries: m.entries, receivedAt: iso(m.receivedAtMs),
      lastRefusal: m.lastRefusal ? { code: m.lastRefusal.code, detail: m.lastRefusal.detail, at: isoTime(m.lastRefusal.atMs) } : null,
    } : null,
    inboundMode: t?.inboundMode ?? null,
    outboundPolicy: t?.outboundPolicy ?? null,
    passthrough: t?.traffic?.passthrough ?? null,
    inboundPlaintext: t?.traffic?.inboundPlaintext ?? null,
  };
}

/** The /status document of docs/design.md "Admin endpoints and JSON". */
export function buildStatus(i: StatusInputs): SidecarStatus {
  const svid = i.snapshot.svid;
  const bundle = i.snapshot.bundle;
  const refused = i.stats.bundleRefusal;
  return {
    version: ZTMESH_VERSION,
    identity: {
      spiffeId: svid?.spiffeId ?? null,
      state: i.snapshot.state,
      serial: svid?.serialHex ?? null,
      notBefore: iso(svid?.notBeforeMs),
      notAfter: iso(svid?.notAfterMs),
      refreshAt: iso(i.stats.nextAttemptMs),
      rotations: i.stats.rotations,
      consecutiveFailures: i.stats.consecutiveFailures,
      lastRotation: iso(i.stats.lastRotationMs),
      lastError: i.stats.lastError ? { code: i.stats.lastError.code, message: i.stats.lastError.message, at: isoTime(i.stats.lastError.atMs) } : null,
      actionNeeded: strandedAction(i),
      publicKeySha256: svid?.publicKeySha256 ?? null,
      failuresTotal: i.stats.failuresTotal,
      history: i.stats.history.map((h) => ({
        serial: h.serial, publicKeySha256: h.publicKeySha256, notBefore: isoTime(h.notBeforeMs), notAfter: isoTime(h.notAfterMs), at: isoTime(h.atMs), trigger: h.trigger, method: h.method,
      })),
    },
    trustBundle: bundle ? {
      trustDomain: bundle.trustDomain,
      sequence: bundle.sequence,
      source: i.stats.bundleSource,
      roots: bundle.roots.map((r, n) => ({ sha256: certFingerprint(bundle.rootsDer[n]!), subject: r.subject.replace(/\n/g, ', '), notAfter: isoTime(certNotAfterMs(r)) })),
      lastRefusal: refused ? { code: refused.code, message: refused.message, at: isoTime(refused.atMs), ...(refused.from ? { from: refused.from } : {}) } : null,
    } : null,
    ca: {
      address: i.ca.address,
      addresses: i.addresses,
      reachable: i.ca.reachable,
      lastContact: iso(i.ca.lastContactMs),
      refusal: i.ca.refusal ? { code: i.ca.refusal.code, message: i.ca.refusal.message, at: isoTime(i.ca.refusal.atMs) } : null,
      bundleStream: {
        connected: i.bundleStream.connected, lastUpdate: iso(i.bundleStream.lastUpdateMs), lastError: i.bundleStream.lastError,
        protocol: i.bundleStream.protocol ?? null,
      },
    },
    readiness: { ready: i.readiness.ready, pending: i.readiness.pending },
    outageBudgetSeconds: outageBudgetSeconds(i.snapshot, i.ca, i.nowMs),
    listeners: i.listeners,
    tunnelPools: i.tunnelPools,
    workloadApi: i.workloadApi ?? null,
    mesh: meshStatus(i),
    ...(i.authz ? { authz: authzStatus(i.authz) } : {}),
  };
}

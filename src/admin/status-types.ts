// The shapes the sidecar admin endpoint reports (docs/design.md "Admin endpoints and JSON").
// admin/ depends only on these interfaces; the sidecar's composition root fills them.
import type { IdentityState } from '../common/mesh.js';

/** One data-path listener as /status shows it; the data path fills these in. */
export interface ListenerStatus {
  name: string;
  kind: 'inbound' | 'outbound' | 'transparent-inbound' | 'transparent-outbound' | string;
  /** The bound address, e.g. "0.0.0.0:15006". */
  address: string;
  connectionsActive: number;
  connectionsTotal: number;
  denied: number;
  /**
   * The latest refused connection: why, who connected (`peer`: the client of an inbound listener, the app of an
   * outbound one), and for outbound where it was going (`upstream`, when it got that far).
   */
  lastRefusal?: { reason: string; peer: string; upstream?: string; peerId?: string; at: string } | null;
  /** Inbound listeners: tunnel connections (HTTP/2 over mTLS) open now; their streams count as connections above. */
  tunnelConnections?: number;
}

/** One outbound tunnel pool: the pooled connections to one upstream and the app connections (streams) they carry. */
export interface TunnelPoolStatus {
  /** "host:port" as dialled. */
  upstream: string;
  /** The expected server ID pattern, or null for any ID of the trust domain. */
  expect: string | null;
  /** `tunnel`, or `raw` while this upstream is remembered as offering no tunnel (raw mTLS per app connection). */
  mode: 'tunnel' | 'raw';
  connections: number;
  streamsActive: number;
  streamsTotal: number;
  /** Streams moved to an mTLS connection of their own (bulk, or busy and alone on their connection). */
  streamsHandedOff: number;
}

/** The last failure, with its stable code. */
export interface LastError {
  code: string;
  message: string;
  /** RFC 3339 time of the failure. */
  at: string;
}

export interface IdentityStatus {
  spiffeId: string | null;
  state: IdentityState;
  serial: string | null;
  notBefore: string | null;
  notAfter: string | null;
  /** When the next renewal attempt is scheduled (refresh point or backoff retry). */
  refreshAt: string | null;
  rotations: number;
  consecutiveFailures: number;
  lastRotation: string | null;
  lastError: LastError | null;
  /** One line saying what an operator must do when the sidecar cannot recover by itself (stranded), else null. */
  actionNeeded?: string | null;
  /** SHA-256 of the current leaf's public key: changes on every rotation. */
  publicKeySha256: string | null;
  failuresTotal: number;
  /** The last rotations, oldest first (serial, key fingerprint, validity, why). */
  history: RotationEntry[];
}

export interface RotationEntry {
  serial: string;
  publicKeySha256: string;
  notBefore: string;
  notAfter: string;
  at: string;
  /** What started it: initial, refresh, retry, forced, untrusted, token_changed. */
  trigger: string;
  /** How the CA was convinced (absent from older sidecars): `renewal`, `join_token`, `k8s_token`. */
  method?: string;
}

export interface TrustBundleStatus {
  trustDomain: string;
  sequence: number;
  /** Where the bundle in force came from: the bootstrap file or the CA. */
  source: 'file' | 'ca';
  roots: { sha256: string; subject: string; notAfter: string }[];
  /** The last bundle from the CA that was refused (e.g. `bundle_unvouched_root`); the bundle above stayed in force. */
  lastRefusal: (LastError & { from?: string }) | null;
}

export interface CaStatus {
  /** The address that answered last (or the first configured one). */
  address: string;
  /** Every configured address, in failover order. */
  addresses: string[];
  reachable: boolean;
  lastContact: string | null;
  /** Set while the CA's latest answer to a signing call was a refusal: the CA was reached and said no. */
  refusal: LastError | null;
  /** The stream from the CA: the mesh stream (`protocol` mesh), or WatchTrustBundle from an older CA. */
  bundleStream: { connected: boolean; lastUpdate: string | null; lastError: { code: string; message: string } | null; protocol?: string | null };
}

/** /status `mesh`: what the mesh stream delivered and what transparent mode did with it. */
export interface MeshStatus {
  /** Per kind, the version applied last and when. */
  kinds: Record<string, { version: string; at: string; lastRefusal: { code: string; detail: string; version: string; at: string } | null }>;
  /** Transparent mode only: awaiting (not ready), known, unsupported (an older CA). */
  membership: { state: string; source: string | null; version: string | null; entries: number; receivedAt: string | null; lastRefusal: { code: string; detail: string; at: string } | null } | null;
  inboundMode: { mode: string; source: string } | null;
  outboundPolicy: string | null;
  /** Plain TCP leaving the mesh: the count and the most frequent destinations (bounded). */
  passthrough: { total: number; top: { destination: string; connections: number; last: string }[] } | null;
  /** Connections taken without TLS in permissive mode. */
  inboundPlaintext: { total: number } | null;
}

/** /status `authz`: the authorization policy in force (docs/authorization.md). */
export interface AuthzStatus {
  /** awaiting: no set yet (inbound refused, not ready); known; unsupported: an older CA (no central policy). */
  state: string;
  /** ca, or state-dir when kept from a previous run. */
  source: string | null;
  version: string | null;
  receivedAt: string | null;
  /** The mesh default the CA sent: allow or deny. */
  defaultPolicy: string | null;
  /** "namespace/name" of each policy in force (dry-run ones too), and of the dry-run ones alone. */
  policies: string[];
  dryRun: string[];
  /** Whether a change closes established connections it no longer allows (authz.revokeEstablished). */
  revokeEstablished: boolean;
  lastRefusal: { code: string; detail: string; version: string; at: string } | null;
}

/** The SPIFFE Workload API (`socket` null when only files are configured) and the certificate files. */
export interface WorkloadApiStatus {
  socket: string | null;
  allowUids?: string[];
  allowGids?: string[];
  connections?: number;
  activeCalls?: number;
  callsTotal?: number;
  /** Refused calls and connections by code (missing_security_header, caller_not_admitted, no_svid, …). */
  refusals?: Record<string, number>;
  lastRefusal?: { code: string; method: string; uid: number | null; pid: number | null; at: string } | null;
  jwtSvids?: { cached: number; fetched: number; servedFromCache: number };
  /** The JWT authorities trusted now, and the last one refused (not vouched for by a trusted root, …). */
  jwtBundle?: { sequence: number; keyIds: string[]; lastRefusal: { keyId: string; code: string; message: string; at: string } | null };
  files: {
    dir: string;
    files: { cert: string; key: string; bundle: string };
    writes: number;
    lastWrite: string | null;
    serial: string | null;
    lastError: { code: string; message: string; at: string } | null;
    onRotate: { kind: 'signal' | 'command'; runs: number; lastResult: string | null } | null;
  } | null;
}

/** The whole /status document. */
export interface SidecarStatus {
  /** The ztmesh version of this sidecar (common/version.ts); absent from older sidecars. */
  version?: string;
  identity: IdentityStatus;
  trustBundle: TrustBundleStatus | null;
  ca: CaStatus;
  /** What /readyz answers (absent from sidecars older than it): `ztmesh status` exits 0 exactly when `ready`. */
  readiness?: { ready: boolean; pending: string[] };
  /** Seconds until the SVID expires while the CA is unreachable; null while reachable or without an SVID. */
  outageBudgetSeconds: number | null;
  listeners: ListenerStatus[];
  /** The outbound tunnel pools, one per upstream (and expected ID); absent from sidecars older than tunnels. */
  tunnelPools?: TunnelPoolStatus[];
  /** The Workload API and certificate files; null when neither is configured, absent from older sidecars. */
  workloadApi?: WorkloadApiStatus | null;
  /** Absent from sidecars older than the mesh stream. */
  mesh?: MeshStatus;
  /** Absent from sidecars older than central authorization policy. */
  authz?: AuthzStatus;
}

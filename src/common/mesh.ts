// The mesh's contract constants, in one place: ports, the sidecar's uid, the paths a pod mounts, the token
// audience, the CA's identity and the identity states (docs/design.md "Contracts"). Every part reads them from here.
import { formatHostPort } from './address.js';

/** The trust domain when none is configured. */
export const DEFAULT_TRUST_DOMAIN = 'cluster.local';

/** Ports (docs/design.md "Ports and paths"). */
export const PORTS = {
  /** The CA's gRPC port (TLS). */
  caGrpc: 15012,
  /** The CA's admin HTTP port (/healthz, /readyz, /metrics), on loopback by default. */
  caAdmin: 15010,
  /** The sidecar's admin (status, metrics, certs, rotate), on loopback. */
  sidecarAdmin: 15000,
  /** The sidecar's health port for kubelet probes (/healthz, /readyz only); the webhook's too. */
  sidecarHealth: 15021,
  /**
   * The sidecar's pod-reachable metrics (plain HTTP `GET /metrics`: its own merged with the app's), where injection
   * points the pod's prometheus.io annotations (docs/design.md "Metrics in a pod").
   */
  sidecarMetrics: 15020,
  /** The sidecar's inbound mTLS port (transparent mode; explicit mode counts up from it). */
  inbound: 15006,
  /** The sidecar's transparent outbound port, where iptables redirects the app's connections. */
  outbound: 15001,
  /** The injection webhook's HTTPS port. */
  webhook: 15443,
} as const;

/** Ports the sidecar itself listens on in a pod: inbound traffic to them is never redirected. */
export const SIDECAR_OWN_PORTS: readonly number[] = [PORTS.sidecarAdmin, PORTS.outbound, PORTS.inbound, PORTS.sidecarMetrics, PORTS.sidecarHealth];

/**
 * The Node.js flags a sidecar runs with, chosen on measurement (docs/bench.md, "V8 flags"): a 4 MB semi-space
 * (V8's default is 16) keeps peak RSS under rr32 about 20 % lower (107 → 86 MB) at the same throughput. Injected pods
 * get them as NODE_OPTIONS, the demo and the bench pass them on the command line.
 */
export const SIDECAR_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=4'];

/** The uid (and gid) the sidecar runs as; iptables never redirects its own traffic. */
export const PROXY_UID = 1337;

/**
 * Where the transparent inbound sends forwards to the app from (IPv4): a loopback address other than 127.0.0.1, so the
 * nat rules tell the sidecar's forward from the app's own loopback traffic and do not capture it again.
 */
export const INBOUND_SOURCE_V4 = '127.0.0.6';
/** The IPv6 counterpart; `ztmesh iptables` adds it to lo, because unlike 127.0.0.0/8 it is not local by default. */
export const INBOUND_SOURCE_V6 = '::6';

/** The projected ServiceAccount token, as a pod mounts it. */
export const TOKEN_DIR = '/var/run/secrets/ztmesh';
export const TOKEN_PATH = `${TOKEN_DIR}/token`;
/** The trust bundle's ConfigMap (in ztmesh-system, and in each meshed namespace) and the key holding the PEM roots. */
export const TRUST_BUNDLE_CONFIGMAP = 'ztmesh-trust-bundle';
export const TRUST_BUNDLE_KEY = 'roots.pem';
/** The trust bundle, as a pod mounts it. */
export const BUNDLE_DIR = '/var/run/ztmesh/bundle';
export const BUNDLE_PATH = `${BUNDLE_DIR}/${TRUST_BUNDLE_KEY}`;

/** The Workload API socket in an injected pod: a pod-private emptyDir shared by the sidecar and the app containers. */
export const WORKLOAD_API_DIR = '/var/run/ztmesh/workload-api';
export const WORKLOAD_API_SOCKET = `${WORKLOAD_API_DIR}/socket`;
/** The variable SPIFFE clients (go-spiffe, py-spiffe, java-spiffe, spiffe-helper) read the Workload API address from. */
export const SPIFFE_ENDPOINT_SOCKET = 'SPIFFE_ENDPOINT_SOCKET';

/** The audience projected tokens must carry for the CA; tokens for the API server itself are refused. */
export const TOKEN_AUDIENCE = 'ztmesh-ca';

/** The namespace and ServiceAccount of the CA; every ID in that namespace is reserved. */
export const CA_NAMESPACE = 'ztmesh-system';
export const CA_SERVICE_ACCOUNT = 'ztmesh-ca';
/** The CA's Service name, and the TLS name a sidecar sends to a CA dialled by IP address. */
export const CA_SERVICE_HOST = `${CA_SERVICE_ACCOUNT}.${CA_NAMESPACE}.svc`;
/** Where injected sidecars find the CA. */
export const CA_SERVICE_ADDRESS = formatHostPort(CA_SERVICE_HOST, PORTS.caGrpc);

/** The SPIFFE ID the CA serves with; clients check it instead of a host name. */
export function caSpiffeId(trustDomain: string): string {
  return `spiffe://${trustDomain}/ns/${CA_NAMESPACE}/sa/${CA_SERVICE_ACCOUNT}`;
}

/** Every join token starts with this, so attestors (and the sidecar, naming how it was issued) tell it from a JWT. */
export const JOIN_TOKEN_PREFIX = 'ztjt_';

/**
 * How a workload proved itself to the CA: the CA attestor's name, one name in the CA's and the sidecar's logs, the
 * issuance log, GET /identities, `ztmesh ca status`, the sidecar's /status history and the docs.
 */
export const ISSUANCE_METHODS = ['join_token', 'k8s_token', 'renewal'] as const;
export type IssuanceMethod = (typeof ISSUANCE_METHODS)[number];

/** The states of a workload identity, in /status `identity.state` and `ztmesh_identity_state{state}`. */
export const IDENTITY_STATES = ['initializing', 'available', 'renewing', 'unavailable', 'expired', 'untrusted'] as const;
export type IdentityState = (typeof IDENTITY_STATES)[number];

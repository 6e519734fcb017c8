// The AuthorizationPolicy model (docs/design.md "Authorization policy"): the object as ztmesh holds it once parsed,
// the mesh default, the names a decision reports, and the bounds every reader enforces. Pure types and constants.
import { CA_NAMESPACE } from '../common/mesh.js';

export const POLICY_API_VERSION = 'ztmesh.io/v1alpha1';
export const POLICY_KIND = 'AuthorizationPolicy';
/** The API group and plural of the CRD (deploy/kubernetes/crds), as RBAC and the URL name them. */
export const POLICY_GROUP = 'ztmesh.io';
export const POLICY_VERSION = 'v1alpha1';
export const POLICY_PLURAL = 'authorizationpolicies';

/** A policy here without a selector applies to every workload of the mesh. */
export const ROOT_NAMESPACE = CA_NAMESPACE;
/** Where a policy file's object that names no namespace lives (as kubectl apply does). */
export const DEFAULT_NAMESPACE = 'default';

export const POLICY_ACTIONS = ['ALLOW', 'DENY'] as const;
export type PolicyAction = (typeof POLICY_ACTIONS)[number];

/** `ca serve --default-policy`: what decides when no policy does. `allow` admits the trust domain, as before policies. */
export const MESH_DEFAULTS = ['allow', 'deny'] as const;
export type MeshDefault = (typeof MESH_DEFAULTS)[number];
export const DEFAULT_MESH_DEFAULT: MeshDefault = 'allow';

/** The deciding "policy" of a decision no object made: the mesh default, or a sidecar's own allow list. */
export const MESH_DEFAULT_POLICY = 'mesh-default';
export const LOCAL_POLICY = 'local';

/** Bounds of one object and one set; past them an object is refused (naming the field), never truncated. */
export const POLICY_LIMITS = {
  /** Policies in one set (what the CA serves, what a sidecar takes). */
  maxPolicies: 10_000,
  maxRules: 128,
  /** Entries of one rule's `from` and `to`. */
  maxSources: 64,
  maxOperations: 64,
  maxPrincipals: 4_096,
  maxNamespaces: 256,
  maxPorts: 1_024,
  maxServiceAccounts: 256,
  /** A policy file (or one watched object's text) larger than this is refused whole. */
  maxFileBytes: 4 * 1024 * 1024,
} as const;

/** Who a rule admits or refuses: the peer's SPIFFE ID matches a pattern, or its namespace is listed. */
export interface PolicySource {
  /** SPIFFE ID patterns (pki/spiffe-id.ts: an exact ID, or a prefix ending in `/*`). */
  readonly principals?: readonly string[];
  /** Namespaces of the workload's trust domain (from IDs `spiffe://<td>/ns/<ns>/...`). */
  readonly namespaces?: readonly string[];
}

/** Which of the workload's ports a rule covers. */
export interface PolicyOperation {
  readonly ports: readonly number[];
}

/** A connection matches a rule when it matches any `from` (omitted: any peer) and any `to` (omitted: any port). */
export interface PolicyRule {
  readonly from?: readonly PolicySource[];
  readonly to?: readonly PolicyOperation[];
}

/** One AuthorizationPolicy, parsed and checked (parse.ts). */
export interface AuthorizationPolicy {
  readonly namespace: string;
  readonly name: string;
  readonly action: PolicyAction;
  /** Evaluated, logged and counted, never enforced. */
  readonly dryRun: boolean;
  /** Omitted: every workload of the namespace (of the whole mesh in the root namespace). */
  readonly selector?: { readonly serviceAccounts: readonly string[] };
  /** The policy matches a connection when it matches any rule; none: it matches nothing. */
  readonly rules: readonly PolicyRule[];
}

/** What the CA serves one sidecar: the mesh default and the policies that select it (plus the mesh-wide ones). */
export interface PolicySet {
  readonly defaultPolicy: MeshDefault;
  readonly policies: readonly AuthorizationPolicy[];
}

/** "namespace/name": how logs, metrics and the CLI name a policy. */
export function policyKey(p: { namespace: string; name: string }): string {
  return `${p.namespace}/${p.name}`;
}

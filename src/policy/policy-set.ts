// Which workloads a policy selects, what one sidecar is sent (the policies that select it plus the mesh-wide ones,
// nothing else: least disclosure), and the version of such a set (a content hash). Pure.
import { createHash } from 'node:crypto';
import { parseSpiffeId } from '../pki/spiffe-id.js';
import { policyKey, ROOT_NAMESPACE, type AuthorizationPolicy, type PolicyRule, type PolicySet } from './model.js';

/** The namespace and ServiceAccount of a workload ID `spiffe://<td>/ns/<ns>/sa/<sa>`; undefined for any other form. */
export function workloadOf(id: string): { trustDomain: string; namespace: string; serviceAccount: string } | undefined {
  let parsed;
  try {
    parsed = parseSpiffeId(id);
  } catch {
    return undefined;
  }
  const m = /^\/ns\/([^/]+)\/sa\/([^/]+)$/.exec(parsed.path);
  return m ? { trustDomain: parsed.trustDomain, namespace: m[1]!, serviceAccount: m[2]! } : undefined;
}

/** A policy of the root namespace without a selector: it applies to every workload of the mesh. */
export function isMeshWide(p: AuthorizationPolicy): boolean {
  return p.namespace === ROOT_NAMESPACE && !p.selector;
}

/**
 * Whether `p` applies to the workload `workloadId`: mesh-wide, or of the workload's namespace and (with a selector)
 * naming its ServiceAccount. A workload whose ID is not `spiffe://<td>/ns/<ns>/sa/<sa>` gets only mesh-wide policies.
 */
export function selects(p: AuthorizationPolicy, workloadId: string): boolean {
  if (isMeshWide(p)) return true;
  const w = workloadOf(workloadId);
  if (!w || w.namespace !== p.namespace) return false;
  return !p.selector || p.selector.serviceAccounts.includes(w.serviceAccount);
}

/** The policies of `all` that apply to `workloadId`, in the order given. */
export function policiesFor(all: readonly AuthorizationPolicy[], workloadId: string): AuthorizationPolicy[] {
  return all.filter((p) => selects(p, workloadId));
}

/** Policies sorted by "namespace/name": every ordering of the same set compiles, hashes and prints the same. */
export function sortPolicies(list: readonly AuthorizationPolicy[]): AuthorizationPolicy[] {
  return [...list].sort((a, b) => (policyKey(a) < policyKey(b) ? -1 : policyKey(a) > policyKey(b) ? 1 : 0));
}

const canonicalRule = (r: PolicyRule) => ({
  from: r.from?.map((s) => ({ principals: s.principals ?? null, namespaces: s.namespaces ?? null })) ?? null,
  to: r.to?.map((o) => o.ports) ?? null,
});

/** The version of a set: the first 16 hex digits of the SHA-256 of its canonical form (equal sets, equal versions). */
export function policySetVersion(set: PolicySet): string {
  const body = sortPolicies(set.policies).map((p) => [p.namespace, p.name, p.action, p.dryRun, p.selector?.serviceAccounts ?? null, p.rules.map(canonicalRule)]);
  return createHash('sha256').update(JSON.stringify([set.defaultPolicy, body])).digest('hex').slice(0, 16);
}

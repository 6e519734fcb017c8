// The policy kind's body on the wire (mesh.proto PolicySet) and back. Decoding turns each policy into the object a
// user writes and reads it with the one reader (policy/parse.ts), so a sidecar accepts exactly what the CA and
// `ztmesh policy validate` accept. Never throws: a refusal names the policy and the field.
import type { PolicySet as WirePolicySet } from '../gen/ztmesh/mesh/v1/PolicySet.js';
import { MESH_DEFAULTS, POLICY_API_VERSION, POLICY_KIND, POLICY_LIMITS, type AuthorizationPolicy, type MeshDefault, type PolicySet } from '../policy/model.js';
import { parsePolicyObject } from '../policy/parse.js';
import type { Refusal } from './destination.js';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const list = (v: unknown): unknown[] | undefined => (v === undefined || v === null ? [] : Array.isArray(v) ? v : undefined);
const nonEmpty = (v: unknown): unknown[] | undefined => {
  const l = list(v);
  return l && l.length ? l : undefined;
};

/** One wire policy as the object a user writes (empty lists are absent fields, as proto3 cannot tell them apart). */
function objectOf(p: Obj): unknown {
  const rules = list(p.rules);
  const sel = isObj(p.selector) ? p.selector : undefined;
  return {
    apiVersion: POLICY_API_VERSION,
    kind: POLICY_KIND,
    metadata: { name: p.name, namespace: p.namespace },
    spec: {
      action: p.action,
      dryRun: p.dryRun ?? false,
      ...(sel ? { selector: { serviceAccounts: list(sel.serviceAccounts) } } : {}),
      rules: rules?.map((r) => {
        if (!isObj(r)) return r;
        const from = nonEmpty(r.from);
        const to = nonEmpty(r.to);
        return {
          ...(from ? { from: from.map((s) => (isObj(s) ? { ...(nonEmpty(s.principals) ? { principals: s.principals } : {}), ...(nonEmpty(s.namespaces) ? { namespaces: s.namespaces } : {}) } : s)) } : {}),
          ...(to ? { to: to.map((o) => (isObj(o) ? { ports: o.ports } : o)) } : {}),
        };
      }) ?? p.rules,
    },
  };
}

/** Decodes a PolicySet body; a refusal (`malformed_policy`) names the policy and the field. */
export function decodePolicySet(body: unknown): { ok: true; value: PolicySet } | { ok: false; refusal: Refusal } {
  const bad = (detail: string) => ({ ok: false as const, refusal: { code: 'malformed_policy', detail } });
  if (!isObj(body)) return bad('a policy update without a policy body');
  if (!(MESH_DEFAULTS as readonly unknown[]).includes(body.defaultPolicy)) {
    return bad(`policy.default_policy "${String(body.defaultPolicy).slice(0, 40)}" is not one of ${MESH_DEFAULTS.join(', ')}`);
  }
  const wire = list(body.policies);
  if (!wire) return bad('policy.policies is not a list');
  if (wire.length > POLICY_LIMITS.maxPolicies) return bad(`${wire.length} policies, at most ${POLICY_LIMITS.maxPolicies}`);
  const policies: AuthorizationPolicy[] = [];
  const seen = new Set<string>();
  for (let i = 0; i < wire.length; i++) {
    const w = wire[i];
    if (!isObj(w)) return bad(`policy.policies[${i}] is not a message`);
    const r = parsePolicyObject(objectOf(w));
    if (!r.ok) return bad(`policy.policies[${i}] (${r.key ?? 'unnamed'}): ${r.problems.slice(0, 3).map((p) => `${p.field}: ${p.message}`).join('; ')}`);
    const key = `${r.policy.namespace}/${r.policy.name}`;
    if (seen.has(key)) return bad(`policy.policies[${i}]: ${key} appears twice`);
    seen.add(key);
    policies.push(r.policy);
  }
  return { ok: true, value: { defaultPolicy: body.defaultPolicy as MeshDefault, policies } };
}

/** Encodes a set for the wire. */
export function encodePolicySet(set: PolicySet): WirePolicySet {
  return {
    defaultPolicy: set.defaultPolicy,
    policies: set.policies.map((p) => ({
      namespace: p.namespace, name: p.name, action: p.action, dryRun: p.dryRun,
      selector: p.selector ? { serviceAccounts: [...p.selector.serviceAccounts] } : null,
      rules: p.rules.map((r) => ({
        from: (r.from ?? []).map((s) => ({ principals: [...(s.principals ?? [])], namespaces: [...(s.namespaces ?? [])] })),
        to: (r.to ?? []).map((o) => ({ ports: [...o.ports] })),
      })),
    })),
  };
}

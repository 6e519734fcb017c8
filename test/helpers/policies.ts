// AuthorizationPolicy helpers for tests: objects as a user writes them (YAML/JSON shape), and fast-check arbitraries
// of valid policies over a small world (two trust domains, a few namespaces, ServiceAccounts and ports), so that
// random policies and random connections meet often.
import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { stringify } from 'yaml';
import type { AuthorizationPolicy } from '../../src/policy/model.js';

type Obj = Record<string, unknown>;

/** An AuthorizationPolicy object as a file or the API holds it. */
export function policyDoc(namespace: string, name: string, spec: Obj): Obj {
  return { apiVersion: 'ztmesh.io/v1alpha1', kind: 'AuthorizationPolicy', metadata: { name, namespace }, spec };
}

export const WORLD = {
  trustDomain: 'cluster.local',
  namespaces: ['shop', 'ops', 'ztmesh-system'] as const,
  serviceAccounts: ['web', 'api', 'db'] as const,
  ports: [80, 443, 5432] as const,
};

/** A workload or peer ID of the world (or of another trust domain, or of no ns/sa form). */
export const idArb = fc.oneof(
  { weight: 6, arbitrary: fc.tuple(fc.constantFrom(...WORLD.namespaces), fc.constantFrom(...WORLD.serviceAccounts)).map(([ns, sa]) => `spiffe://${WORLD.trustDomain}/ns/${ns}/sa/${sa}`) },
  { weight: 1, arbitrary: fc.constantFrom('spiffe://other.org/ns/shop/sa/web', `spiffe://${WORLD.trustDomain}/vm/build-1`) },
);

const patternArb = fc.oneof(
  idArb,
  fc.constantFrom(...WORLD.namespaces).map((ns) => `spiffe://${WORLD.trustDomain}/ns/${ns}/*`),
  fc.constant(`spiffe://${WORLD.trustDomain}/*`),
);

const nameArb = fc.constantFrom('a', 'web', 'db-1', 'x.y');

/** Valid policies of the world. */
export const policyArb: fc.Arbitrary<AuthorizationPolicy> = fc.record({
  namespace: fc.constantFrom(...WORLD.namespaces),
  name: nameArb,
  action: fc.constantFrom('ALLOW' as const, 'DENY' as const),
  dryRun: fc.boolean(),
  selector: fc.option(fc.record({ serviceAccounts: fc.uniqueArray(fc.constantFrom(...WORLD.serviceAccounts), { minLength: 1, maxLength: 2 }) }), { nil: undefined }),
  rules: fc.array(fc.record({
    from: fc.option(fc.array(fc.oneof(
      fc.record({ principals: fc.array(patternArb, { minLength: 1, maxLength: 3 }) }),
      fc.record({ namespaces: fc.array(fc.constantFrom('shop', 'ops'), { minLength: 1, maxLength: 2 }) }),
    ), { minLength: 1, maxLength: 2 }), { nil: undefined }),
    to: fc.option(fc.array(fc.record({ ports: fc.array(fc.constantFrom(...WORLD.ports), { minLength: 1, maxLength: 2 }) }), { minLength: 1, maxLength: 2 }), { nil: undefined }),
  }, { requiredKeys: [] }), { maxLength: 3 }),
}, { requiredKeys: ['namespace', 'name', 'action', 'dryRun', 'rules'] }).map((p) => JSON.parse(JSON.stringify(p)) as AuthorizationPolicy);

/** A set of policies with unique names. */
export const policiesArb = fc.uniqueArray(policyArb, { maxLength: 8, selector: (p) => `${p.namespace}/${p.name}` });

/** Writes `docs` as one multi-document YAML file (atomically: a reader never sees half of it). */
export function writePolicyFile(dir: string, file: string, docs: readonly Obj[] | string): void {
  const text = typeof docs === 'string' ? docs : docs.map((d) => stringify(d)).join('---\n');
  const tmp = join(dir, `.${file}.tmp`);
  writeFileSync(tmp, text);
  renameSync(tmp, join(dir, file));
}

/** The PolicySet of a mesh update as the wire gives it: the mesh default and the names of its policies. */
export function namesIn(u: { policy?: { defaultPolicy?: string; policies?: { namespace: string; name: string }[] } | null }): { defaultPolicy: string | undefined; names: string[] } {
  return { defaultPolicy: u.policy?.defaultPolicy, names: (u.policy?.policies ?? []).map((p) => `${p.namespace}/${p.name}`).sort() };
}

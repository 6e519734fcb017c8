// `ztmesh policy explain` as a pure function: with the workload's own allow list (--allow), the ALLOW policy `local`
// decides where its sidecar would let it (allowed and refused), central DENY still wins over it, a central ALLOW that
// applies to the port decides first; without --allow, the decisions are those of central policy alone.
import { describe, expect, it } from 'vitest';
import { explain, formatExplanation, type Explanation } from '../../../src/cli/policy.js';
import { parsePolicyObject } from '../../../src/policy/parse.js';
import type { AuthorizationPolicy, MeshDefault } from '../../../src/policy/model.js';
import { policyDoc } from '../../helpers/policies.js';

const id = (sa: string) => `spiffe://cluster.local/ns/shop/sa/${sa}`;
const P = (name: string, spec: Record<string, unknown>): AuthorizationPolicy => {
  const r = parsePolicyObject(policyDoc('shop', name, spec));
  if (!r.ok) throw new Error(JSON.stringify(r.problems));
  return r.policy;
};
const SET = [
  P('db-allows-api', { selector: { serviceAccounts: ['db'] }, rules: [{ from: [{ principals: [id('api')] }], to: [{ ports: [5432] }] }] }),
  P('no-tools', { action: 'DENY', selector: { serviceAccounts: ['db'] }, rules: [{ from: [{ principals: [id('tools')] }] }] }),
];

describe('policy explain with the workload\'s own allow list (--allow)', () => {
  it.each<[string, string, number | undefined, MeshDefault, string[] | undefined, Partial<Explanation>]>([
    ['local names web: allowed by local', 'web', 80, 'allow', [id('web')], { decision: 'allow', policy: 'local', reason: 'allow_matched' }],
    ['local names web only: ops is refused by local', 'ops', 80, 'allow', [id('web')], { decision: 'deny', policy: 'local', reason: 'no_allow_matched' }],
    ['local allows under a mesh default deny', 'web', 80, 'deny', [id('web')], { decision: 'allow', policy: 'local' }],
    ['local refuses under a mesh default deny (local decides, not the default)', 'ops', 80, 'deny', [id('web')], { decision: 'deny', policy: 'local' }],
    ['a prefix pattern in local', 'web', undefined, 'deny', ['spiffe://cluster.local/ns/shop/*'], { decision: 'allow', policy: 'local', port: null }],
    ['central DENY wins over local', 'tools', 80, 'allow', [id('tools')], { decision: 'deny', policy: 'shop/no-tools', reason: 'deny_matched' }],
    ['a central ALLOW on the port decides before local refuses', 'api', 5432, 'allow', [id('web')], { decision: 'allow', policy: 'shop/db-allows-api' }],
    ['local still allows on a port a central ALLOW covers', 'web', 5432, 'allow', [id('web')], { decision: 'allow', policy: 'local' }],
    ['a central ALLOW covering the port names the refusal', 'ops', 5432, 'allow', [id('web')], { decision: 'deny', policy: 'shop/db-allows-api', reason: 'no_allow_matched' }],
    // Without --allow: as before, central policy and the mesh default alone.
    ['absent: the mesh default allow admits ops', 'ops', 80, 'allow', undefined, { decision: 'allow', policy: 'mesh-default', local: null }],
    ['absent: the mesh default deny refuses web', 'web', 80, 'deny', undefined, { decision: 'deny', policy: 'mesh-default', reason: 'mesh_default', local: null }],
    ['absent: a central ALLOW covering the port refuses web', 'web', 5432, 'allow', undefined, { decision: 'deny', policy: 'shop/db-allows-api', local: null }],
  ])('%s', (_what, from, port, def, local, want) => {
    expect(explain(SET, def, id(from), id('db'), port, local)).toMatchObject(want);
  });

  it('says in text that the workload\'s own list decided, and shows the list', () => {
    const allowed = formatExplanation(explain(SET, 'deny', id('web'), id('db'), 80, [id('web'), id('api')]));
    expect(allowed).toContain('  decided by: local (the workload\'s own allow list names the caller)\n');
    expect(allowed).toContain(`  local allow list: ${id('web')}, ${id('api')}\n`);
    const refused = formatExplanation(explain(SET, 'deny', id('ops'), id('db'), 80, [id('web')]));
    expect(refused).toMatch(/^DENY: .*\n {2}decided by: local \(no ALLOW policy applies to this port, and the workload's own allow list does not name the caller\)/);
    const without = formatExplanation(explain(SET, 'deny', id('ops'), id('db'), 80));
    expect(without).toContain('  decided by: mesh-default (');
    expect(without).not.toContain('local allow list');
  });
});

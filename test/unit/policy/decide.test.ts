// The authorization decision: a table of the cases docs/authorization.md walks through (each allowed and refused
// side), then fast-check: the compiled decision equals a naive reading of the rules in docs/design.md, "DENY wins",
// and "dry-run never changes the decision".
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileLocal, compilePolicies, MAX_PEER_MEMO } from '../../../src/policy/compile.js';
import { decide, dryRunDifferences, type Decision } from '../../../src/policy/decide.js';
import { parsePolicyObject } from '../../../src/policy/parse.js';
import { policyKey, type AuthorizationPolicy, type MeshDefault, type PolicyRule } from '../../../src/policy/model.js';
import { policiesFor, selects, sortPolicies } from '../../../src/policy/policy-set.js';
import { matchesPattern, parseSpiffeId, parseSpiffePattern } from '../../../src/pki/spiffe-id.js';
import { idArb, policiesArb, policyDoc, WORLD } from '../../helpers/policies.js';

const TD = 'cluster.local';
const id = (ns: string, sa: string) => `spiffe://${TD}/ns/${ns}/sa/${sa}`;
const P = (namespace: string, name: string, spec: Record<string, unknown>): AuthorizationPolicy => {
  const r = parsePolicyObject(policyDoc(namespace, name, spec));
  if (!r.ok) throw new Error(JSON.stringify(r.problems));
  return r.policy;
};

const SET = [
  P('shop', 'api-from-web', { selector: { serviceAccounts: ['api'] }, rules: [{ from: [{ principals: [id('shop', 'web')] }] }] }),
  P('shop', 'db-from-api', { selector: { serviceAccounts: ['db'] }, rules: [{ from: [{ principals: [id('shop', 'api')] }], to: [{ ports: [5432] }] }] }),
  P('ztmesh-system', 'no-ops-tools', { action: 'DENY', rules: [{ from: [{ principals: [`spiffe://${TD}/ns/ops/sa/tools`] }] }] }),
  P('shop', 'metrics-from-ops', { selector: { serviceAccounts: ['api', 'db'] }, rules: [{ from: [{ namespaces: ['ops'] }], to: [{ ports: [9090] }] }] }),
  P('shop', 'audit-web', { action: 'DENY', dryRun: true, selector: { serviceAccounts: ['api'] }, rules: [{ from: [{ principals: [`spiffe://${TD}/ns/shop/*`] }] }] }),
];

const ask = (to: string, from: string | undefined, port: number | undefined, defaultPolicy: MeshDefault = 'deny', local?: ReturnType<typeof compileLocal>) =>
  decide(compilePolicies({ defaultPolicy, policies: SET }, { trustDomain: TD, workload: to }), { peerId: from, port }, local);

describe('decide', () => {
  it.each<[string, string, string | undefined, number | undefined, Partial<Decision>]>([
    ['web → api (api allows web)', id('shop', 'api'), id('shop', 'web'), 8080, { allow: true, policy: 'shop/api-from-web', reason: 'allow_matched' }],
    ['db → api (api allows only web)', id('shop', 'api'), id('shop', 'db'), 8080, { allow: false, policy: 'shop/api-from-web', reason: 'no_allow_matched' }],
    ['api → db:5432', id('shop', 'db'), id('shop', 'api'), 5432, { allow: true, policy: 'shop/db-from-api' }],
    ['web → db:5432', id('shop', 'db'), id('shop', 'web'), 5432, { allow: false, policy: 'shop/db-from-api', reason: 'no_allow_matched' }],
    ['api → db:6000 (no ALLOW covers it: the mesh default)', id('shop', 'db'), id('shop', 'api'), 6000, { allow: false, policy: 'mesh-default', reason: 'mesh_default' }],
    ['ops/prom → db:9090 by namespace', id('shop', 'db'), id('ops', 'prom'), 9090, { allow: true, policy: 'shop/metrics-from-ops' }],
    ['ops/tools → db:9090: the mesh-wide DENY wins', id('shop', 'db'), id('ops', 'tools'), 9090, { allow: false, policy: 'ztmesh-system/no-ops-tools', reason: 'deny_matched' }],
    ['a plaintext caller → api', id('shop', 'api'), undefined, 8080, { allow: false, reason: 'no_allow_matched' }],
    ['web → a workload nothing selects', id('pay', 'ledger'), id('shop', 'web'), 80, { allow: false, policy: 'mesh-default' }],
    ['an ID that is no SPIFFE ID', id('shop', 'api'), 'spiffe://UPPER/x', 80, { allow: false, reason: 'invalid_spiffe_id' }],
  ])('%s', (_what, to, from, port, want) => {
    expect(ask(to, from, port)).toMatchObject(want);
  });

  it('the mesh default allow admits the trust domain and plaintext callers, not a foreign trust domain', () => {
    expect(ask(id('pay', 'ledger'), id('shop', 'web'), 80, 'allow')).toMatchObject({ allow: true, policy: 'mesh-default' });
    expect(ask(id('pay', 'ledger'), undefined, 80, 'allow')).toMatchObject({ allow: true, policy: 'mesh-default' });
    expect(ask(id('pay', 'ledger'), 'spiffe://other.org/ns/shop/sa/web', 80, 'allow')).toMatchObject({ allow: false, reason: 'foreign_trust_domain' });
  });

  it('the listener\'s allow list is the ALLOW policy named local; defaultPolicy deny alone allows nobody', () => {
    const local = compileLocal([`spiffe://${TD}/ns/pay/*`], 'allow');
    expect(ask(id('pay', 'ledger'), id('pay', 'web'), 80, 'allow', local)).toMatchObject({ allow: true, policy: 'local' });
    expect(ask(id('pay', 'ledger'), id('shop', 'web'), 80, 'allow', local)).toMatchObject({ allow: false, policy: 'local', reason: 'no_allow_matched' });
    // A central ALLOW matching is one more ALLOW policy: it admits too.
    expect(ask(id('shop', 'api'), id('shop', 'web'), 80, 'allow', local)).toMatchObject({ allow: true, policy: 'shop/api-from-web' });
    expect(ask(id('pay', 'ledger'), id('pay', 'web'), 80, 'allow', compileLocal(undefined, 'deny'))).toMatchObject({ allow: false, policy: 'local' });
    expect(compileLocal(undefined, 'allow')).toBeUndefined();
  });

  it('a dry-run DENY changes nothing, and says what it would have done', () => {
    const d = ask(id('shop', 'api'), id('shop', 'web'), 8080);
    expect(d).toMatchObject({ allow: true, policy: 'shop/api-from-web' });
    expect(d.dryRun).toEqual([{ policy: 'shop/audit-web', would: 'deny' }]);
    expect(dryRunDifferences(d)).toEqual([{ policy: 'shop/audit-web', would: 'deny' }]);
    expect(ask(id('shop', 'api'), id('ops', 'x'), 8080).dryRun).toEqual([]);
  });

  it('remembers at most MAX_PEER_MEMO peers per compiled set, and decides the same after it starts over', () => {
    const c = compilePolicies({ defaultPolicy: 'deny', policies: SET }, { trustDomain: TD, workload: id('shop', 'api') });
    for (let i = 0; i < MAX_PEER_MEMO + 10; i++) decide(c, { peerId: id('x', `p${i}`), port: 80 });
    expect(c.peers.size).toBeLessThanOrEqual(MAX_PEER_MEMO);
    expect(decide(c, { peerId: id('shop', 'web'), port: 80 })).toMatchObject({ allow: true, policy: 'shop/api-from-web' });
    expect(decide(c, { peerId: id('shop', 'web'), port: 80 })).toMatchObject({ allow: true, policy: 'shop/api-from-web' });
    expect(decide(c, { peerId: 'not an id', port: 80 })).toMatchObject({ allow: false, reason: 'invalid_spiffe_id' });
  });

  it('selection: a namespace\'s policy without a selector covers its workloads; the root namespace\'s the mesh', () => {
    const ns = P('shop', 'all', {});
    const root = P('ztmesh-system', 'all', {});
    const rootSelected = P('ztmesh-system', 'ca', { selector: { serviceAccounts: ['ztmesh-ca'] } });
    expect([selects(ns, id('shop', 'x')), selects(ns, id('pay', 'x')), selects(root, id('pay', 'x')), selects(root, 'spiffe://td/vm/1')]).toEqual([true, false, true, true]);
    expect([selects(rootSelected, id('shop', 'ztmesh-ca')), selects(rootSelected, id('ztmesh-system', 'ztmesh-ca'))]).toEqual([false, true]);
    expect(policiesFor(SET, id('shop', 'web')).map(policyKey)).toEqual(['ztmesh-system/no-ops-tools']);
  });
});

// A naive reading of the decision in docs/design.md "Authorization policy", walking every policy: the reference the compiled indexes must equal.
function naive(policies: readonly AuthorizationPolicy[], defaultPolicy: MeshDefault, workload: string, peerId: string | undefined, port: number): { allow: boolean; deny?: string } {
  const peer = peerId === undefined ? undefined : parseSpiffeId(peerId);
  const nsOf = (p: typeof peer) => (p && p.trustDomain === TD ? /^\/ns\/([^/]+)/.exec(p.path)?.[1] : undefined);
  const ruleMatches = (r: PolicyRule) => (!r.from || r.from.some((s) => !!peer && ((s.principals ?? []).some((x) => matchesPattern(peer, parseSpiffePattern(x))) || (s.namespaces ?? []).includes(nsOf(peer) ?? '\0'))))
    && (!r.to || r.to.some((o) => o.ports.includes(port)));
  const mine = sortPolicies(policies.filter((p) => !p.dryRun && selects(p, workload)));
  const deny = mine.find((p) => p.action === 'DENY' && p.rules.some(ruleMatches));
  if (deny) return { allow: false, deny: policyKey(deny) };
  const allows = mine.filter((p) => p.action === 'ALLOW' && (p.rules.length === 0 || p.rules.some((r) => !r.to || r.to.some((o) => o.ports.includes(port)))));
  if (allows.length) return { allow: allows.some((p) => p.rules.some(ruleMatches)) };
  if (defaultPolicy === 'deny') return { allow: false };
  return { allow: !peer || peer.trustDomain === TD };
}

const caseArb = fc.record({ policies: policiesArb, defaultPolicy: fc.constantFrom<MeshDefault>('allow', 'deny'), to: idArb, from: fc.option(idArb, { nil: undefined }), port: fc.constantFrom(...WORLD.ports) });
const run = (c: { policies: readonly AuthorizationPolicy[]; defaultPolicy: MeshDefault; to: string; from: string | undefined; port: number }) =>
  decide(compilePolicies({ defaultPolicy: c.defaultPolicy, policies: c.policies }, { trustDomain: TD, workload: c.to }), { peerId: c.from, port: c.port });

describe('decide under fast-check', () => {
  it('equals the naive reading of the rules, for any set and connection', () => {
    fc.assert(fc.property(caseArb, (c) => {
      const d = run(c);
      const want = naive(c.policies, c.defaultPolicy, c.to, c.from, c.port);
      expect(d.allow).toBe(want.allow);
      if (want.deny) expect(d.policy).toBe(want.deny);
    }), { numRuns: 2_000 });
  });

  it('DENY wins: an enforced DENY that matches the connection denies it, whatever else the set holds', () => {
    fc.assert(fc.property(caseArb, fc.boolean(), (c, byNamespace) => {
      const from = c.from === undefined || byNamespace ? { namespaces: ['shop', 'ops'] } : { principals: [c.from] };
      const w = /\/ns\/([^/]+)\//.exec(c.to)?.[1];
      const deny = P(w ?? 'ztmesh-system', 'zz-deny', { action: 'DENY', rules: [{ ...(c.from === undefined ? {} : { from: [from] }), to: [{ ports: [c.port] }] }] });
      const matches = c.from === undefined || !byNamespace || (parseSpiffeId(c.from).trustDomain === TD && /\/ns\/(shop|ops)\//.test(c.from));
      const d = run({ ...c, policies: [...c.policies.filter((p) => p.name !== 'zz-deny'), deny] });
      if (matches) expect(d).toMatchObject({ allow: false, reason: 'deny_matched' });
    }), { numRuns: 1_000 });
  });

  it('dry-run never changes the decision: with or without the dry-run policies, and with any policy made dry-run', () => {
    fc.assert(fc.property(caseArb, fc.nat(), (c, pick) => {
      const d = run(c);
      const strip = ({ dryRun: _d, ...x }: Decision) => x;
      expect(strip(run({ ...c, policies: c.policies.filter((p) => !p.dryRun) }))).toEqual(strip(d));
      if (c.policies.length) {
        const i = pick % c.policies.length;
        const shadowed = c.policies.map((p, j) => (j === i ? { ...p, dryRun: true } : p));
        const without = c.policies.filter((_, j) => j !== i);
        expect(strip(run({ ...c, policies: shadowed }))).toEqual(strip(run({ ...c, policies: without })));
      }
      // What a dry-run policy says it would do is what enforcing it does.
      for (const o of d.dryRun) {
        const enforced = c.policies.map((p) => (policyKey(p) === o.policy ? { ...p, dryRun: false } : p)).filter((p) => !p.dryRun || policyKey(p) === o.policy);
        expect(run({ ...c, policies: enforced }).allow).toBe(o.would === 'allow');
      }
    }), { numRuns: 1_000 });
  });
});

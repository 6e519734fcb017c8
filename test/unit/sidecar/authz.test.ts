// authorize() (a listener's own allow list over the CA's policy, here the open mesh default) and serverIdMatches() as
// tables: exact IDs, prefixes, whole trust domain, default policies, plaintext callers, and fail closed before a set.
// The InboundAuthorizer's `policy` label of ztmesh_authz_decisions_total: bounded, then `other`.
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import {
  authorize, compilePolicy, InboundAuthorizer, isOpenPolicy, MAX_POLICY_LABELS, openPolicyView, OTHER_POLICY_LABEL, serverIdMatches,
} from '../../../src/sidecar/authz.js';
import { createDataPathMetrics } from '../../../src/sidecar/datapath-metrics.js';
import type { PolicyView } from '../../../src/sidecar/mesh/sidecar-policy.js';
import { compilePolicies } from '../../../src/policy/compile.js';
import { parsePolicyObject } from '../../../src/policy/parse.js';
import { parseSpiffePattern } from '../../../src/pki/spiffe-id.js';
import { captureLogger } from '../../helpers/capture-logger.js';
import { FakeClock } from '../../helpers/fake-clock.js';
import { policyDoc } from '../../helpers/policies.js';

const TD = 'cluster.local';
const WEB = 'spiffe://cluster.local/ns/default/sa/web';
const OPS = 'spiffe://cluster.local/ns/ops/sa/backup';

const OPEN = openPolicyView(TD);

describe('authorize', () => {
  // The listener's own allow list (the ALLOW policy `local`) over an open mesh (no central policy, mesh default allow).
  const cases: { name: string; allow?: string[]; def?: 'allow' | 'deny'; peer: string | undefined; allowed: boolean; detail?: string; policy?: string }[] = [
    { name: 'open default admits our trust domain', peer: WEB, allowed: true, policy: 'mesh-default' },
    { name: 'open default refuses a foreign trust domain', peer: 'spiffe://other.org/ns/default/sa/web', allowed: false, detail: 'foreign_trust_domain' },
    { name: 'a plaintext caller (no ID) passes the open default', peer: undefined, allowed: true },
    { name: 'a plaintext caller is refused by an allow list (it names identities)', allow: [WEB], peer: undefined, allowed: false, detail: 'no_allow_matched', policy: 'local' },
    { name: 'a malformed ID is refused', peer: 'spiffe://cluster.local/ns/../x', allowed: false, detail: 'invalid_spiffe_id' },
    { name: 'defaultPolicy deny without rules refuses all', def: 'deny', peer: WEB, allowed: false, detail: 'no_allow_matched', policy: 'local' },
    { name: 'exact rule admits that ID', allow: [WEB], peer: WEB, allowed: true, policy: 'local' },
    { name: 'exact rule refuses a sibling', allow: [WEB], peer: 'spiffe://cluster.local/ns/default/sa/webx', allowed: false, detail: 'no_allow_matched' },
    { name: 'an allow list is exhaustive even with defaultPolicy allow', allow: [WEB], def: 'allow', peer: OPS, allowed: false, detail: 'no_allow_matched' },
    { name: 'prefix rule admits below the prefix', allow: ['spiffe://cluster.local/ns/ops/*'], peer: OPS, allowed: true },
    { name: 'prefix rule does not admit a name sharing the prefix text', allow: ['spiffe://cluster.local/ns/ops/*'], peer: 'spiffe://cluster.local/ns/opsx/sa/a', allowed: false },
    { name: 'prefix rule does not admit the prefix itself', allow: ['spiffe://cluster.local/ns/ops/*'], peer: 'spiffe://cluster.local/ns/ops', allowed: false },
    { name: 'trust-domain rule admits any ID there', allow: ['spiffe://cluster.local'], peer: OPS, allowed: true },
    { name: 'trust-domain rule of another domain (federation) admits it', allow: ['spiffe://partner.example'], peer: 'spiffe://partner.example/ns/a/sa/b', allowed: true },
    { name: 'rules are ORed', allow: [WEB, 'spiffe://cluster.local/ns/ops/*'], def: 'deny', peer: OPS, allowed: true },
    { name: 'an empty allow list refuses all', allow: [], peer: WEB, allowed: false },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const d = authorize(c.peer, compilePolicy(TD, c.allow, c.def ?? 'allow'), OPEN, 8080);
      expect(d.allow).toBe(c.allowed);
      if (c.policy) expect(d.policy).toBe(c.policy);
      if (!d.allow) {
        expect(d.reason).toBe('spiffe_id_denied');
        if (c.detail) expect(d.detail).toContain(`${c.detail} (policy `);
        if (c.peer === undefined) expect(d.detail).toMatch(/^a plaintext client/);
      }
    });
  }

  it('before the first policy set, nobody is admitted: no_policy (fail closed)', () => {
    expect(authorize(WEB, compilePolicy(TD, undefined, 'allow'), { state: 'awaiting' }, 8080)).toMatchObject({ allow: false, reason: 'no_policy' });
    expect(authorize(WEB, compilePolicy(TD, [WEB], 'allow'), { state: 'awaiting' }, 8080)).toMatchObject({ allow: false, reason: 'no_policy' });
  });

  it('only a listener without its own list or deny is open', () => {
    expect(isOpenPolicy(compilePolicy(TD, undefined, 'allow'))).toBe(true);
    expect(isOpenPolicy(compilePolicy(TD, undefined, 'deny'))).toBe(false);
    expect(isOpenPolicy(compilePolicy(TD, [WEB], 'allow'))).toBe(false);
  });

  it('rejects a bad rule when compiling', () => {
    expect(() => compilePolicy(TD, ['http://x'], 'allow')).toThrow(/invalid SPIFFE ID pattern/);
  });
});

describe('serverIdMatches', () => {
  const API = 'spiffe://cluster.local/ns/default/sa/api';
  it.each([
    [API, API, true],
    [API, WEB, false],
    [API, 'spiffe://cluster.local/ns/default/*', true],
    [API, undefined, true],
    ['spiffe://other.org/ns/default/sa/api', undefined, false],
    [undefined, undefined, false],
    ['not a uri', undefined, false],
  ] as const)('%s against %s → %s', (peer, expect_, ok) => {
    expect(serverIdMatches(peer, expect_ ? parseSpiffePattern(expect_) : undefined, 'cluster.local')).toBe(ok);
  });
});

describe('InboundAuthorizer: the policy label of ztmesh_authz_decisions_total is bounded', () => {
  const peer = (i: number) => `spiffe://${TD}/ns/shop/sa/p${i}`;
  const name = (i: number) => `p${String(i).padStart(4, '0')}`;
  /** `n` mesh-wide ALLOW policies, policy i allowing peer i only: each peer's connection is decided by its own policy. */
  const meshWide = (n: number): PolicyView => {
    const policies = Array.from({ length: n }, (_, i) => {
      const r = parsePolicyObject(policyDoc('ztmesh-system', name(i), { rules: [{ from: [{ principals: [peer(i)] }] }] }));
      if (!r.ok) throw new Error(JSON.stringify(r.problems));
      return r.policy;
    });
    return { state: 'known', compiled: compilePolicies({ defaultPolicy: 'allow', policies }, { trustDomain: TD, workload: WEB }), version: 'v1' };
  };
  const setup = (view: () => PolicyView, maxPolicyLabels?: number) => {
    const metrics = createDataPathMetrics(new Registry());
    const authz = new InboundAuthorizer({
      view, metrics, clock: new FakeClock(), log: captureLogger().logger, workload: () => WEB, ...(maxPolicyLabels === undefined ? {} : { maxPolicyLabels }),
    });
    const counts = async () => Object.fromEntries((await metrics.authzDecisions.get()).values.map((v) => [`${v.labels.result} ${v.labels.policy}`, v.value]));
    return { authz, counts };
  };
  const open = compilePolicy(TD, undefined, 'allow');

  it('names every policy while under the bound (injected: 3), then counts the rest as other; local and mesh-default keep their names', async () => {
    let view = meshWide(5);
    const { authz, counts } = setup(() => view, 3);
    for (let i = 0; i < 3; i++) expect(authz.check({ peer: '10.0.0.1:1', peerId: peer(i), port: 80, policy: open })).toMatchObject({ allow: true, policy: `ztmesh-system/${name(i)}` });
    // Under the bound: three names, nothing is other.
    expect(await counts()).toEqual({ 'allow ztmesh-system/p0000': 1, 'allow ztmesh-system/p0001': 1, 'allow ztmesh-system/p0002': 1 });
    for (let i = 3; i < 5; i++) authz.check({ peer: '10.0.0.1:1', peerId: peer(i), port: 80, policy: open });
    authz.check({ peer: '10.0.0.1:1', peerId: peer(0), port: 80, policy: open });
    // Past the bound: a name labelled before keeps its label; local and mesh-default always keep theirs.
    authz.check({ peer: '10.0.0.1:1', peerId: OPS, port: 80, policy: open });
    authz.check({ peer: '10.0.0.1:1', peerId: WEB, port: 80, policy: compilePolicy(TD, [WEB], 'allow') });
    authz.revoked(`ztmesh-system/${name(4)}`);
    view = meshWide(0);
    authz.check({ peer: '10.0.0.1:1', peerId: OPS, port: 80, policy: open });
    expect(await counts()).toEqual({
      'allow ztmesh-system/p0000': 2, 'allow ztmesh-system/p0001': 1, 'allow ztmesh-system/p0002': 1, [`allow ${OTHER_POLICY_LABEL}`]: 2,
      'deny ztmesh-system/p0000': 1, 'allow local': 1, 'allow mesh-default': 1, [`revoked ${OTHER_POLICY_LABEL}`]: 1,
    });
  });

  it('defaults to MAX_POLICY_LABELS names: all of them named at the bound, the ones past it other', async () => {
    const view = meshWide(MAX_POLICY_LABELS + 2);
    const { authz, counts } = setup(() => view);
    const ask = (i: number) => authz.check({ peer: '10.0.0.1:1', peerId: peer(i), port: 80, policy: open });
    for (let i = 0; i < MAX_POLICY_LABELS; i++) ask(i);
    const atBound = await counts();
    expect(Object.keys(atBound)).toHaveLength(MAX_POLICY_LABELS);
    expect(atBound[`allow ${OTHER_POLICY_LABEL}`]).toBeUndefined();
    ask(MAX_POLICY_LABELS);
    ask(MAX_POLICY_LABELS + 1);
    const c = await counts();
    expect(Object.keys(c)).toHaveLength(MAX_POLICY_LABELS + 1);
    expect(c[`allow ztmesh-system/${name(MAX_POLICY_LABELS - 1)}`]).toBe(1);
    expect(c[`allow ztmesh-system/${name(MAX_POLICY_LABELS)}`]).toBeUndefined();
    expect(c[`allow ${OTHER_POLICY_LABEL}`]).toBe(2);
  });
});

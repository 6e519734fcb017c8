// authorize() (a listener's own allow list over the CA's policy, here the open mesh default) and serverIdMatches() as
// tables: exact IDs, prefixes, whole trust domain, default policies, plaintext callers, and fail closed before a set.
import { describe, expect, it } from 'vitest';
import { authorize, compilePolicy, isOpenPolicy, openPolicyView, serverIdMatches } from '../../../src/sidecar/authz.js';
import { parseSpiffePattern } from '../../../src/pki/spiffe-id.js';

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

// The transparent outbound's decision, as a table: static rules, then membership, then the outbound policy.
import { describe, expect, it } from 'vitest';
import { parseSpiffePattern } from '../../../src/pki/spiffe-id.js';
import { decideOutbound, type MembershipView, type StaticRoute } from '../../../src/mesh/outbound-decision.js';

const api = parseSpiffePattern('spiffe://cluster.local/ns/default/sa/api');
const none: StaticRoute = { kind: 'none' };
const meshed: MembershipView = { state: 'known', match: { key: 'pod/default/api', expect: [api] } };
const notMeshed: MembershipView = { state: 'known', match: undefined };

describe('decideOutbound', () => {
  it.each<[string, StaticRoute, MembershipView, 'passthrough' | 'registry-only', object]>([
    ['static passthrough by CIDR wins over membership', { kind: 'passthrough', because: 'cidr' }, meshed, 'registry-only', { action: 'plain', because: 'cidr' }],
    ['static passthrough by port', { kind: 'passthrough', because: 'port' }, notMeshed, 'registry-only', { action: 'plain', because: 'port' }],
    ['expect gives mTLS with its ID, meshed or not', { kind: 'expect', expect: api, rule: '10.0.0.0/8:*' }, notMeshed, 'passthrough', { action: 'mtls', because: 'expect', expect: [api] }],
    ['meshed: mTLS with the identities membership names', none, meshed, 'passthrough', { action: 'mtls', because: 'meshed', expect: [api], rule: 'pod/default/api' }],
    ['not meshed, passthrough: plain', none, notMeshed, 'passthrough', { action: 'plain', because: 'not_meshed' }],
    ['not meshed, registry-only: refused', none, notMeshed, 'registry-only', { action: 'refuse', reason: 'destination_not_meshed' }],
    ['no membership yet: mTLS, never plain', none, { state: 'awaiting' }, 'passthrough', { action: 'mtls', because: 'membership_awaited', expect: [] }],
    ['an older CA without the mesh stream: mTLS as before', none, { state: 'unsupported' }, 'passthrough', { action: 'mtls', because: 'membership_unsupported', expect: [] }],
  ])('%s', (_what, route, view, policy, want) => {
    expect(decideOutbound(route, () => view, policy)).toMatchObject(want);
  });

  it('asks membership only when no static rule decides', () => {
    let asked = 0;
    const view = () => { asked++; return notMeshed; };
    decideOutbound({ kind: 'passthrough', because: 'cidr' }, view, 'passthrough');
    decideOutbound({ kind: 'expect', expect: api, rule: 'x' }, view, 'passthrough');
    expect(asked).toBe(0);
    decideOutbound(none, view, 'passthrough');
    expect(asked).toBe(1);
  });
});

// The CA's policy store: sources replaced whole, the last valid version of a refused object kept (a broken file keeps
// all it held), one name in force once, nothing served before a feed's first state; and the policy kind's per-peer
// views (least disclosure, a version per view, a snapshot only when the view changed).
import { describe, expect, it } from 'vitest';
import { PolicyKind } from '../../../../src/ca/policy/policy-kind.js';
import { PolicyStore, type SourceUpdate } from '../../../../src/ca/policy/policy-store.js';
import { parsePolicyText } from '../../../../src/policy/parse.js';
import { policyDoc } from '../../../helpers/policies.js';

const file = (name: string, ...docs: unknown[]): [string, SourceUpdate] => [name, { source: name, parsed: parsePolicyText(JSON.stringify(docs), name, 'json') }];
const broken = (name: string): [string, SourceUpdate] => [name, { source: name, parsed: parsePolicyText('{', name, 'json') }];
const names = (s: PolicyStore) => s.policies().map((p) => `${p.policy.namespace}/${p.policy.name}:${p.policy.action}`);
const a = (action = 'ALLOW') => policyDoc('shop', 'a', { action });
const b = policyDoc('shop', 'b', { selector: { serviceAccounts: ['db'] } });
const peer = (sa: string) => ({ spiffeId: `spiffe://td/ns/shop/sa/${sa}`, address: '10.0.0.1:1' });

describe('PolicyStore', () => {
  it('keeps the last valid version of a refused object, and everything a broken file held; a removed file takes its own', () => {
    const s = new PolicyStore('deny');
    s.replaceSources(new Map([file('1.json', a('DENY'), b)]));
    expect(names(s)).toEqual(['shop/a:DENY', 'shop/b:ALLOW']);
    s.replaceSources(new Map([file('1.json', a('MAYBE'))]));
    expect(names(s)).toEqual(['shop/a:DENY']);
    expect(s.problems()).toEqual([expect.objectContaining({ object: 'shop/a', field: 'spec.action', lastValidInForce: true })]);
    s.replaceSources(new Map([broken('1.json')]));
    expect(names(s)).toEqual(['shop/a:DENY']);
    expect(s.problems()).toEqual([expect.objectContaining({ field: '(syntax)', lastValidInForce: true })]);
    s.replaceSources(new Map([['1.json', undefined]]));
    expect(names(s)).toEqual([]);
    expect(s.counts()).toEqual({ valid: 0, invalid: 0 });
  });

  it('holds one name once: the first source wins, the other is refused', () => {
    const s = new PolicyStore('allow');
    s.replaceSources(new Map([file('2.json', a('ALLOW')), file('1.json', a('DENY'))]));
    expect(names(s)).toEqual(['shop/a:DENY']);
    expect(s.problems()).toEqual([expect.objectContaining({ source: '2.json', object: 'shop/a', message: 'also defined in 1.json, which is in force' })]);
  });

  it('a feed\'s store serves nothing before its first state', () => {
    const s = new PolicyStore('deny', { awaitFeed: true });
    const kind = new PolicyKind(s);
    expect(kind.next(peer('db'), undefined)).toBeUndefined();
    s.replaceSources(new Map([file('k8s', b)]));
    expect(kind.next(peer('db'), undefined)).toBeUndefined();
    s.complete();
    expect(kind.next(peer('db'), undefined)).toMatchObject({ kind: 'policy', base: '' });
  });

  it('each peer gets its own view and version; a change that does not touch a view leaves its version', () => {
    const s = new PolicyStore('deny');
    const kind = new PolicyKind(s);
    s.replaceSources(new Map([file('1.json', b)]));
    const db = kind.next(peer('db'), undefined)!;
    const web = kind.next(peer('web'), undefined)!;
    expect(db.kind === 'policy' && db.policy.policies.map((p) => p.name)).toEqual(['b']);
    expect(web.kind === 'policy' && web.policy.policies).toEqual([]);
    expect(kind.next(peer('db'), db.version)).toBeUndefined();
    s.replaceSources(new Map([file('2.json', policyDoc('shop', 'c', { selector: { serviceAccounts: ['web'] } }))]));
    expect(kind.version(peer('db'))).toBe(db.version);
    expect(kind.version(peer('web'))).not.toBe(web.version);
  });
});

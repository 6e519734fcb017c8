// The AuthorizationPolicy reader: a valid object in every shape the docs show, every refusal naming its field,
// policy files (YAML documents, Lists, JSON) with their problems as `file:object:field`, and fast-check: the reader is
// total (never throws) over arbitrary values and text, and a valid policy written out reads back equal.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parsePolicyObject, parsePolicyText, problemLine } from '../../../src/policy/parse.js';
import { policyArb } from '../../helpers/policies.js';

const doc = (spec: unknown, metadata: Record<string, unknown> = { name: 'db-from-api', namespace: 'shop' }) => ({ apiVersion: 'ztmesh.io/v1alpha1', kind: 'AuthorizationPolicy', metadata, spec });

describe('parsePolicyObject', () => {
  it('reads the object of docs/authorization.md', () => {
    const r = parsePolicyObject(doc({
      selector: { serviceAccounts: ['db'] }, action: 'ALLOW', dryRun: false,
      rules: [{ from: [{ principals: ['spiffe://cluster.local/ns/shop/sa/api'] }, { namespaces: ['ops'] }], to: [{ ports: [5432, '5433'] }] }],
    }));
    expect(r).toEqual({
      ok: true,
      policy: {
        namespace: 'shop', name: 'db-from-api', action: 'ALLOW', dryRun: false, selector: { serviceAccounts: ['db'] },
        rules: [{ from: [{ principals: ['spiffe://cluster.local/ns/shop/sa/api'] }, { namespaces: ['ops'] }], to: [{ ports: [5432, 5433] }] }],
      },
    });
  });

  it('defaults: action ALLOW, no dry run, no rules; the namespace from the file', () => {
    const r = parsePolicyObject(doc({}, { name: 'deny-all' }), { defaultNamespace: 'default' });
    expect(r).toEqual({ ok: true, policy: { namespace: 'default', name: 'deny-all', action: 'ALLOW', dryRun: false, rules: [] } });
  });

  it.each([
    ['an unknown action', { action: 'AUDIT' }, 'spec.action'],
    ['an unknown spec field', { actions: 'ALLOW' }, 'spec.actions'],
    ['a selector without service accounts', { selector: {} }, 'spec.selector.serviceAccounts'],
    ['a selector with labels', { selector: { matchLabels: { app: 'db' } } }, 'spec.selector.matchLabels'],
    ['a string for rules', { rules: 'all' }, 'spec.rules'],
    ['a bad principal', { rules: [{ from: [{ principals: ['web'] }] }] }, 'spec.rules[0].from[0].principals[0]'],
    ['an empty source', { rules: [{ from: [{}] }] }, 'spec.rules[0].from[0]'],
    ['an empty from', { rules: [{ from: [] }] }, 'spec.rules[0].from'],
    ['port 0', { rules: [{ to: [{ ports: [0] }] }] }, 'spec.rules[0].to[0].ports[0]'],
    ['a port range', { rules: [{ to: [{ ports: ['80-90'] }] }] }, 'spec.rules[0].to[0].ports[0]'],
    ['a bad namespace', { rules: [{ from: [{ namespaces: ['Ops'] }] }] }, 'spec.rules[0].from[0].namespaces[0]'],
    ['dryRun as a string', { dryRun: 'yes' }, 'spec.dryRun'],
  ])('refuses %s, naming %s', (_what, spec, field) => {
    const r = parsePolicyObject(doc(spec));
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.key).toBe('shop/db-from-api');
      expect(r.problems.map((p) => p.field)).toContain(field);
    }
  });

  it('refuses a wrong kind and apiVersion, a missing name and namespace, and reports them all', () => {
    const r = parsePolicyObject({ apiVersion: 'v1', kind: 'Policy', metadata: {}, spec: {} });
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.key).toBeUndefined();
      expect(r.problems.map((p) => p.field).sort()).toEqual(['apiVersion', 'kind', 'metadata.name', 'metadata.namespace']);
    }
  });
});

describe('parsePolicyText', () => {
  it('reads YAML documents and Lists, naming each problem as file:object:field', () => {
    const text = [
      'apiVersion: ztmesh.io/v1alpha1\nkind: AuthorizationPolicy\nmetadata: { name: a, namespace: shop }\nspec: { action: DENY }',
      'apiVersion: v1\nkind: List\nitems:\n- apiVersion: ztmesh.io/v1alpha1\n  kind: AuthorizationPolicy\n  metadata: { name: b }\n  spec: { action: MAYBE }',
      'apiVersion: ztmesh.io/v1alpha1\nkind: AuthorizationPolicy\nspec: {}',
    ].join('\n---\n');
    const f = parsePolicyText(text, 'p.yaml', 'yaml');
    expect(f.policies.map((p) => `${p.namespace}/${p.name}`)).toEqual(['shop/a']);
    expect(f.refusedKeys).toEqual(['default/b']);
    expect(f.problems.map(problemLine)).toEqual([
      'p.yaml:default/b:spec.action: "MAYBE" is not one of ALLOW, DENY',
      'p.yaml:#3:metadata: is required, with name (and namespace)',
    ]);
    expect(f.unreadable).toBe(false);
  });

  it('refuses broken YAML and JSON whole, naming the document', () => {
    const y = parsePolicyText('apiVersion: ztmesh.io/v1alpha1\n---\nkind: [unclosed\n', 'bad.yaml', 'yaml');
    expect(y).toMatchObject({ unreadable: true, policies: [] });
    expect(problemLine(y.problems[0]!)).toMatch(/^bad\.yaml:#2:\(syntax\): not YAML/);
    const j = parsePolicyText('{"apiVersion":', 'bad.json', 'json');
    expect(j).toMatchObject({ unreadable: true });
    expect(problemLine(j.problems[0]!)).toMatch(/^bad\.json:#1:\(syntax\): not JSON/);
  });

  it('reads a JSON array and refuses a duplicate name in one file', () => {
    const one = doc({ action: 'DENY' });
    const f = parsePolicyText(JSON.stringify([one, one]), 'p.json', 'json');
    expect(f.policies).toHaveLength(1);
    expect(f.problems.map(problemLine)).toEqual(['p.json:shop/db-from-api:metadata.name: appears twice in this file (the first is kept)']);
  });
});

describe('the reader under fast-check', () => {
  it('never throws on arbitrary values, and every refusal names a field', () => {
    fc.assert(fc.property(fc.anything(), fc.anything(), (spec, meta) => {
      for (const v of [spec, doc(spec), doc(spec, meta as Record<string, unknown>), { ...doc({}), spec: { rules: [spec] } }]) {
        const r = parsePolicyObject(v);
        if (!r.ok) for (const p of r.problems) expect(p.field.length).toBeGreaterThan(0);
      }
    }), { numRuns: 500 });
  });

  it('never throws on arbitrary text, as YAML or JSON', () => {
    fc.assert(fc.property(fc.string({ maxLength: 300 }), (text) => {
      for (const format of ['yaml', 'json'] as const) {
        const f = parsePolicyText(text, 'f', format);
        expect(Array.isArray(f.policies) && Array.isArray(f.problems)).toBe(true);
      }
    }), { numRuns: 300 });
  });

  it('a valid policy written out as an object (and as YAML) reads back equal', () => {
    fc.assert(fc.property(policyArb, (p) => {
      const { namespace, name: n, ...spec } = p;
      const obj = doc(spec, { name: n, namespace });
      expect(parsePolicyObject(obj)).toEqual({ ok: true, policy: p });
      expect(parsePolicyText(JSON.stringify(obj), 'f.json', 'json').policies).toEqual([p]);
    }), { numRuns: 300 });
  });
});


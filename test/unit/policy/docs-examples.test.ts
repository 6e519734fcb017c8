// Every AuthorizationPolicy docs/authorization.md and docs/design.md show is one the reader accepts (the design page's
// object is shown without apiVersion and kind), and the web/api/db example decides as the page says.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { compilePolicies } from '../../../src/policy/compile.js';
import { decide } from '../../../src/policy/decide.js';
import { parsePolicyText } from '../../../src/policy/parse.js';

const doc = (name: string) => readFileSync(fileURLToPath(new URL(`../../../docs/${name}`, import.meta.url)), 'utf8');
const yamlBlocks = (text: string) => [...text.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1]!).filter((b) => /kind: AuthorizationPolicy|spec:/.test(b));

describe('the policies the docs show', () => {
  it('are all valid', () => {
    const blocks = [...yamlBlocks(doc('authorization.md')), ...yamlBlocks(doc('design.md')).map((b) => `apiVersion: ztmesh.io/v1alpha1\nkind: AuthorizationPolicy\n${b}`)]
      .filter((b) => b.includes('kind: AuthorizationPolicy'));
    expect(blocks.length).toBeGreaterThanOrEqual(6);
    for (const b of blocks) {
      const f = parsePolicyText(b, 'docs', 'yaml');
      expect(f.problems, b).toEqual([]);
      expect(f.policies.length).toBeGreaterThan(0);
    }
  });

  it('web → api and api → db:5432 connect; web → db and db → api are refused', () => {
    const block = yamlBlocks(doc('authorization.md')).find((b) => b.includes('api-allows-web'))!;
    const policies = parsePolicyText(block, 'docs', 'yaml').policies;
    const id = (sa: string) => `spiffe://cluster.local/ns/shop/sa/${sa}`;
    const ask = (from: string, to: string, port: number) => decide(compilePolicies({ defaultPolicy: 'deny', policies }, { trustDomain: 'cluster.local', workload: id(to) }), { peerId: id(from), port }).allow;
    expect([ask('web', 'api', 8080), ask('api', 'db', 5432), ask('web', 'db', 5432), ask('db', 'api', 8080), ask('api', 'db', 5433)]).toEqual([true, true, false, false, false]);
  });
});

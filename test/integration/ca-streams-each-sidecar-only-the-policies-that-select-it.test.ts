// A CA with --policy-dir and --default-policy deny, its mesh stream read by hand (test/helpers/mesh-stream.ts):
// each sidecar receives only the policies that select its authenticated ID plus the mesh-wide ones (web never sees
// db's), as a versioned snapshot it acknowledges; GET /policies shows who runs which version. An edited file reaches
// the sidecars it concerns, and only them; an invalid file (a bad field, broken YAML, an unknown action) is named with
// its field in the log, the metric and GET /policies, while the files beside it load and the last valid version of
// the refused objects stays in force.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCa, type TestCaServer } from '../helpers/ca.js';
import { openMesh, svidFor, type TestMeshStream } from '../helpers/mesh-stream.js';
import { namesIn, policyDoc, writePolicyFile } from '../helpers/policies.js';
import { tempDir } from '../helpers/temp-dir.js';

const id = (sa: string) => `spiffe://example.org/ns/shop/sa/${sa}`;
const dir = tempDir('ztmesh-policy-dir-');
const apiAllowsWeb = policyDoc('shop', 'api-allows-web', { selector: { serviceAccounts: ['api'] }, rules: [{ from: [{ principals: [id('web')] }] }] });
const dbAllowsApi = (port: number) => policyDoc('shop', 'db-allows-api', { selector: { serviceAccounts: ['db'] }, rules: [{ from: [{ principals: [id('api')] }], to: [{ ports: [port] }] }] });
const meshWide = policyDoc('ztmesh-system', 'no-legacy', { action: 'DENY', rules: [{ from: [{ namespaces: ['legacy'] }] }] });

let ca: TestCaServer;
const streams: TestMeshStream[] = [];
const policies = async () => (await fetch(`http://${ca.adminAddress}/policies`)).json() as Promise<Record<string, any>>; // eslint-disable-line @typescript-eslint/no-explicit-any

async function sidecar(sa: string): Promise<TestMeshStream> {
  const s = openMesh(ca, await svidFor(ca, id(sa)));
  streams.push(s);
  s.subscribe(['policy']);
  return s;
}

beforeAll(async () => {
  writePolicyFile(dir, 'api.yaml', [apiAllowsWeb]);
  writePolicyFile(dir, 'db.yaml', [dbAllowsApi(5432)]);
  writePolicyFile(dir, 'mesh.json', JSON.stringify(meshWide));
  ca = await startCa({ args: ['--policy-dir', dir, '--default-policy', 'deny'] });
});
afterAll(async () => {
  for (const s of streams) s.cancel();
  await ca?.stop();
});

describe('the policy kind of the mesh stream', () => {
  it('gives each sidecar only the policies that select it, plus the mesh-wide ones; edits reach only those they concern', async () => {
    const web = await sidecar('web');
    const db = await sidecar('db');
    const w1 = await web.next();
    const d1 = await db.next();
    expect([w1.kind, w1.baseVersion, namesIn(w1)]).toEqual(['policy', '', { defaultPolicy: 'deny', names: ['ztmesh-system/no-legacy'] }]);
    expect(namesIn(d1)).toEqual({ defaultPolicy: 'deny', names: ['shop/db-allows-api', 'ztmesh-system/no-legacy'] });
    expect(JSON.stringify(w1)).not.toContain('db-allows-api');
    expect(w1.version).toMatch(/^[0-9a-f]{16}$/);
    web.ack(w1);
    db.ack(d1);
    await expect.poll(async () => (await policies()).versions, { timeout: 5_000 }).toEqual({ [w1.version]: 1, [d1.version]: 1 });
    const rows = (await policies()).sidecars;
    expect(rows.find((r: { spiffeId: string }) => r.spiffeId === id('db'))).toMatchObject({ version: d1.version, acked: d1.version, upToDate: true, policies: ['shop/db-allows-api', 'ztmesh-system/no-legacy'] });

    // db's port changes: db gets a new version, web nothing (its view did not change).
    writePolicyFile(dir, 'db.yaml', [dbAllowsApi(6432)]);
    const d2 = await db.next();
    expect(d2.version).not.toBe(d1.version);
    expect(d2.policy?.policies.find((p) => p.name === 'db-allows-api')?.rules[0]?.to[0]?.ports).toEqual([6432]);
    db.ack(d2);
    expect(web.pending()).toBe(0);
  });

  it('names an invalid file\'s field (bad field, broken YAML, unknown action); the rest loads, the last valid version stays', async () => {
    const db = await sidecar('db');
    const before = await db.next();
    db.ack(before);
    const dbPolicy = before.policy!.policies.find((p) => p.name === 'db-allows-api');
    // db.yaml gets an unknown action for db-allows-api; api.yaml breaks as YAML; a new file has a bad field, and a valid policy beside it.
    writePolicyFile(dir, 'db.yaml', [{ ...dbAllowsApi(7000), spec: { ...dbAllowsApi(7000).spec as object, action: 'AUDIT' } }]);
    writePolicyFile(dir, 'api.yaml', 'apiVersion: ztmesh.io/v1alpha1\nkind: [AuthorizationPolicy\n');
    writePolicyFile(dir, 'new.yaml', [policyDoc('shop', 'typo', { selector: { serviceAcounts: ['db'] } }), policyDoc('shop', 'db-audit', { action: 'DENY', dryRun: true, selector: { serviceAccounts: ['db'] }, rules: [{}] })]);
    const after = await db.next();
    db.ack(after);
    // The valid policy beside the bad one loads; db-allows-api keeps its last valid version (port 6432).
    expect(namesIn(after).names).toEqual(['shop/db-allows-api', 'shop/db-audit', 'ztmesh-system/no-legacy']);
    expect(after.policy!.policies.find((p) => p.name === 'db-allows-api')).toEqual(dbPolicy);
    const report = await policies();
    const lines = report.invalid.map((p: { source: string; object: string; field: string; lastValidInForce: boolean }) => `${p.source.slice(dir.length + 1)}:${p.object}:${p.field}:${p.lastValidInForce}`);
    expect(lines.sort()).toEqual(['api.yaml:#1:(syntax):true', 'db.yaml:shop/db-allows-api:spec.action:true', 'new.yaml:shop/typo:spec.selector.serviceAcounts:false', 'new.yaml:shop/typo:spec.selector.serviceAccounts:false'].sort());
    expect(report.policies.map((p: { name: string }) => p.name).sort()).toEqual(['api-allows-web', 'db-allows-api', 'db-audit', 'no-legacy']);
    const metrics = await (await fetch(`http://${ca.adminAddress}/metrics`)).text();
    expect(metrics).toMatch(/ztmesh_ca_policies\{state="invalid"\} 3/);
    expect(metrics).toMatch(/ztmesh_ca_policies\{state="valid"\} 4/);
    // The CA's JSON log is written asynchronously: poll for the lines.
    const warned = () => ca.process.json().filter((l) => l.code === 'invalid_policy').map((l) => `${String(l.object)}:${String(l.field)}`);
    await expect.poll(warned).toEqual(expect.arrayContaining(['shop/db-allows-api:spec.action', 'shop/typo:spec.selector.serviceAcounts', '#1:(syntax)']));
  });
});

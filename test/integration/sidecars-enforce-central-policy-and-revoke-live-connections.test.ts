// Outside Kubernetes, end to end: a CA with --policy-dir and --default-policy deny, and three sidecar processes (web,
// api, db) with "api allows web" and "db allows api on its port". web → api and api → db connect; web → db and db → api
// are refused with spiffe_id_denied, the line naming the deciding policy, the workload and the port. Editing a file
// is followed by new connections within 2 s, and closes the live web → api tunnel stream and raw mTLS connection with
// policy_revoked (counted); db runs with authz.revokeEstablished false, so its live connection lives on while new
// ones are refused. A dry-run DENY changes nothing but is counted and logged.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCa, type TestCaServer } from '../helpers/ca.js';
import { policyDoc, writePolicyFile } from '../helpers/policies.js';
import { shopId, startPolicyMesh, type PolicyMesh } from '../helpers/policy-mesh.js';
import { tempDir } from '../helpers/temp-dir.js';

const dir = tempDir('ztmesh-policy-e2e-');
const apiAllows = (...who: string[]) => policyDoc('shop', 'api-allows-web', { selector: { serviceAccounts: ['api'] }, rules: [{ from: [{ principals: who.map(shopId) }] }] });
const dbAllowsApi = (port: number) => policyDoc('shop', 'db-allows-api', { selector: { serviceAccounts: ['db'] }, rules: [{ from: [{ principals: [shopId('api')] }], to: [{ ports: [port] }] }] });

let ca: TestCaServer;
let m: PolicyMesh;
beforeAll(async () => {
  // The app ports are the workload ports the policies name: the files are written once the mesh knows them.
  writePolicyFile(dir, 'placeholder.yaml', []);
  ca = await startCa({ args: ['--policy-dir', dir, '--default-policy', 'deny'] });
  m = await startPolicyMesh(ca, ['web', 'api', 'db'], { raw: [['web', 'api']], args: { db: ['--authz-revoke-established', 'false'] } });
  writePolicyFile(dir, 'api.yaml', [apiAllows('web')]);
  writePolicyFile(dir, 'db.yaml', [dbAllowsApi(m.workloads.db!.appPort)]);
  // Every sidecar runs the set that holds both.
  for (const name of ['api', 'db']) await m.workloads[name]!.sc.waitForStatus((s) => (s.authz?.policies.length ?? 0) === 1);
}, 60_000);
afterAll(async () => {
  await m?.stop();
  await ca?.stop();
});

describe('central authorization policy, enforced by the sidecars', () => {
  it('web → api and api → db connect; web → db and db → api are refused, naming the deciding policy', async () => {
    expect(await m.echo('web', 'api')).toBe(true);
    expect(await m.echo('web', 'api', 'raw')).toBe(true);
    expect(await m.echo('api', 'db')).toBe(true);
    expect(await m.echo('web', 'db')).toBe(false);
    expect(await m.echo('db', 'api')).toBe(false);
    await expect.poll(() => m.lines('db', 'connection refused', { peerId: shopId('web') }), { timeout: 5_000 }).toContainEqual(expect.objectContaining({
      reason: 'spiffe_id_denied', policy: 'shop/db-allows-api', workload: shopId('db'), port: m.workloads.db!.appPort,
    }));
    await expect.poll(() => m.lines('api', 'connection refused', { peerId: shopId('db') }), { timeout: 5_000 }).toContainEqual(expect.objectContaining({
      reason: 'spiffe_id_denied', policy: 'shop/api-allows-web', workload: shopId('api'),
    }));
    expect(await m.metric('api', 'ztmesh_authz_decisions_total', { result: 'allow', policy: 'shop/api-allows-web' })).toBeGreaterThan(0);
  });

  it('a dry-run DENY changes nothing, but is counted and logged', async () => {
    writePolicyFile(dir, 'audit.yaml', [policyDoc('shop', 'db-audit', { action: 'DENY', dryRun: true, selector: { serviceAccounts: ['db'] }, rules: [{ from: [{ principals: [shopId('api')] }] }] })]);
    await m.workloads.db!.sc.waitForStatus((s) => s.authz?.dryRun.includes('shop/db-audit') === true);
    expect(await m.echo('api', 'db')).toBe(true);
    expect(await m.metric('db', 'ztmesh_authz_dry_run_total', { policy: 'shop/db-audit', would: 'deny' })).toBeGreaterThan(0);
    await expect.poll(() => m.lines('db', 'authz dry run: shop/db-audit would deny this connection (not enforced)'), { timeout: 5_000 })
      .toContainEqual(expect.objectContaining({ peerId: shopId('api'), decidedBy: 'shop/db-allows-api', decision: 'allow' }));
  });

  it('an edited file: new connections follow within 2 s, live ones are closed with policy_revoked (unless revokeEstablished is false)', async () => {
    const stream = await m.open('web', 'api');
    const raw = await m.open('web', 'api', 'raw');
    const toDb = await m.open('api', 'db');
    for (const c of [stream, raw, toDb]) expect(await c.roundTrip()).toBe(true);
    const t0 = Date.now();
    writePolicyFile(dir, 'api.yaml', [apiAllows('lb')]);
    writePolicyFile(dir, 'db.yaml', [dbAllowsApi(1)]);
    await Promise.all([stream.closed, raw.closed]);
    expect(Date.now() - t0).toBeLessThan(2_000);
    // New connections are refused now, for api and for db alike.
    expect(await m.echo('web', 'api')).toBe(false);
    expect(await m.echo('api', 'db')).toBe(false);
    expect(Date.now() - t0).toBeLessThan(4_000);
    await expect.poll(() => m.lines('api', 'connection closed', { reason: 'policy_revoked' }).length, { timeout: 5_000 }).toBe(2);
    const revoked = m.lines('api', 'connection closed', { reason: 'policy_revoked' });
    for (const l of revoked) expect(l).toMatchObject({ peerId: shopId('web'), workload: shopId('api'), policy: 'shop/api-allows-web' });
    expect(await m.metric('api', 'ztmesh_authz_decisions_total', { result: 'revoked', policy: 'shop/api-allows-web' })).toBe(2);
    // db does not revoke: its established connection from api lives on.
    expect(await toDb.roundTrip()).toBe(true);
    expect(m.lines('db', 'connection closed', { reason: 'policy_revoked' })).toEqual([]);
    toDb.socket.destroy();
  });
});

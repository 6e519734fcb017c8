// A CA with --default-policy deny and --k8s-policy-watch against the stand-in API server, before the CRD exists: it
// serves no policy, so api's sidecar has never received a set: it refuses every inbound connection (no_policy, fail
// closed), logs why, and its /readyz names mesh-policy. Once the CRD and a policy exist, the set reaches it through
// the watch and web gets in while db does not; a MODIFIED and a DELETED object reach it the same way. With the CA
// killed, api enforces its last set; restarted with identity.stateDir while the CA is still down, it is ready at once
// and enforces the same set.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCa, type TestCaServer } from '../helpers/ca.js';
import { DEPLOY_CRDS, renderByHand } from '../helpers/deploy-manifests.js';
import { startFakeApiServer, type FakeApiServer } from '../helpers/fake-apiserver.js';
import { policyDoc } from '../helpers/policies.js';
import { shopId, startPolicyMesh, type PolicyMesh } from '../helpers/policy-mesh.js';
import { tempDir } from '../helpers/temp-dir.js';

let api: FakeApiServer;
let ca: TestCaServer;
let m: PolicyMesh;
const stateDir = join(tempDir('ztmesh-policy-state-'), 'api');

beforeAll(async () => {
  api = await startFakeApiServer();
  ca = await startCa({ args: ['--default-policy', 'deny', '--k8s-policy-watch', '--k8s-api', api.url, '--k8s-token-file', api.tokenFile, '--k8s-ca-file', api.caFile, '--k8s-server-name', api.serverName] });
  m = await startPolicyMesh(ca, ['web', 'api', 'db'], { args: { api: ['--state-dir', stateDir] }, waitReady: false });
}, 60_000);
afterAll(async () => {
  await m?.stop();
  await ca?.stop();
  await api?.close();
});

describe('a sidecar and its policy set', () => {
  it('fails closed before its first set, then takes it from Kubernetes', async () => {
    const sc = m.workloads.api!.sc;
    for (const w of Object.values(m.workloads)) await w.sc.waitForStatus((s) => s.identity.state === 'available');
    const r = await sc.readyz();
    expect(r.status).toBe(503);
    expect(r.body.pending).toEqual(['mesh-policy']);
    expect((await sc.status()).authz).toMatchObject({ state: 'awaiting', version: null });
    expect(await m.echo('web', 'api')).toBe(false);
    await expect.poll(() => m.lines('api', 'connection refused', { peerId: shopId('web') }), { timeout: 5_000 })
      .toContainEqual(expect.objectContaining({ reason: 'no_policy' }));

    for (const o of renderByHand(DEPLOY_CRDS)) api.apply(o);
    api.apply(policyDoc('shop', 'api-allows-web', { selector: { serviceAccounts: ['api'] }, rules: [{ from: [{ principals: [shopId('web')] }] }] }));
    await m.ready('api');
    expect((await sc.status()).authz).toMatchObject({ state: 'known', source: 'ca', defaultPolicy: 'deny', policies: ['shop/api-allows-web'] });
    expect(await m.echo('web', 'api')).toBe(true);
    expect(await m.echo('db', 'api')).toBe(false);
  });

  it('follows MODIFIED and DELETED from the watch, new connections included', async () => {
    const sc = m.workloads.api!.sc;
    const allows = (name: string) => policyDoc('shop', 'api-allows-web', { selector: { serviceAccounts: ['api'] }, rules: [{ from: [{ principals: [shopId(name)] }] }] });
    const first = (await sc.status()).authz!.version;
    api.apply(allows('db'));
    await sc.waitForStatus((s) => s.authz?.version !== first);
    expect(await m.echo('db', 'api')).toBe(true);
    expect(await m.echo('web', 'api')).toBe(false);
    api.remove('AuthorizationPolicy', 'api-allows-web', 'shop');
    await sc.waitForStatus((s) => s.authz?.policies.length === 0);
    expect(await m.echo('db', 'api')).toBe(false);
    // The set is a content hash: the first object again is the first version again.
    api.apply(allows('web'));
    await sc.waitForStatus((s) => s.authz?.version === first);
    expect(await m.echo('web', 'api')).toBe(true);
  });

  it('enforces the last set with the CA killed, and after a restart with stateDir while it is still down', async () => {
    const version = (await m.workloads.api!.sc.status()).authz!.version;
    await ca.stop();
    await m.workloads.api!.sc.waitForStatus((s) => !s.ca.bundleStream.connected);
    expect(await m.echo('web', 'api')).toBe(true);
    expect(await m.echo('db', 'api')).toBe(false);

    await m.restart('api');
    await m.ready('api');
    expect((await m.workloads.api!.sc.status()).authz).toMatchObject({ state: 'known', source: 'state-dir', version, policies: ['shop/api-allows-web'] });
    expect(await m.echo('web', 'api')).toBe(true);
    expect(await m.echo('db', 'api')).toBe(false);
    // The refusal's line can reach the test after the reset reached db's client.
    await expect.poll(() => m.lines('api', 'connection refused', { peerId: shopId('db') }), { timeout: 5_000 })
      .toContainEqual(expect.objectContaining({ reason: 'spiffe_id_denied', policy: 'shop/api-allows-web' }));
  });
});

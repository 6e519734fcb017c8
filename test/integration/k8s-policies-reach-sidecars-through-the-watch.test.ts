// A CA with --k8s-policy-watch against the stand-in API server (the CRD established, as deploy/ installs it): nothing
// is served before the first list; then ADDED, MODIFIED and DELETED AuthorizationPolicies reach the mesh streams of
// the sidecars they select (and only those); a dropped watch resumes from its resourceVersion without a relist; a
// compacted history (410 Gone) relists and converges; an invalid object gets a Warning Event naming its field while
// its last valid version stays in force.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCa, type TestCaServer } from '../helpers/ca.js';
import { DEPLOY_CRDS, renderByHand } from '../helpers/deploy-manifests.js';
import { startFakeApiServer, type FakeApiServer } from '../helpers/fake-apiserver.js';
import { openMesh, svidFor, type TestMeshStream } from '../helpers/mesh-stream.js';
import { namesIn, policyDoc } from '../helpers/policies.js';
import type { MeshUpdate__Output } from '../../src/gen/ztmesh/mesh/v1/MeshUpdate.js';

const id = (sa: string) => `spiffe://cluster.local/ns/shop/sa/${sa}`;
const dbAllowsApi = (port: number, action = 'ALLOW') => policyDoc('shop', 'db-allows-api', { action, selector: { serviceAccounts: ['db'] }, rules: [{ from: [{ principals: [id('api')] }], to: [{ ports: [port] }] }] });

let api: FakeApiServer;
let ca: TestCaServer;
const streams: TestMeshStream[] = [];

/** The next update of a stream, acknowledged. */
async function next(s: TestMeshStream): Promise<MeshUpdate__Output> {
  const u = await s.next(15_000);
  s.ack(u);
  return u;
}
const lists = () => api.requests.filter((r) => r.method === 'GET' && r.path.startsWith('/apis/ztmesh.io/v1alpha1/authorizationpolicies?') && !r.path.includes('watch=1')).length;
const watches = () => api.requests.filter((r) => r.path.startsWith('/apis/ztmesh.io/v1alpha1/authorizationpolicies?') && r.path.includes('watch=1')).map((r) => new URL(r.path, 'https://x').searchParams.get('resourceVersion'));

beforeAll(async () => {
  api = await startFakeApiServer();
  for (const o of renderByHand(DEPLOY_CRDS)) api.apply(o);
  api.apply(dbAllowsApi(5432));
  api.apply(policyDoc('ztmesh-system', 'no-legacy', { action: 'DENY', rules: [{ from: [{ namespaces: ['legacy'] }] }] }));
  ca = await startCa({ trustDomain: 'cluster.local', args: ['--k8s-policy-watch', '--default-policy', 'deny', '--k8s-api', api.url, '--k8s-token-file', api.tokenFile, '--k8s-ca-file', api.caFile, '--k8s-server-name', api.serverName] });
}, 60_000);
afterAll(async () => {
  for (const s of streams) s.cancel();
  await ca?.stop();
  await api?.close();
});

describe('AuthorizationPolicies from Kubernetes on the mesh stream', () => {
  it('ADDED, MODIFIED, DELETED reach the sidecars they select; a dropped watch resumes; 410 relists; an invalid object gets an Event', async () => {
    const db = openMesh(ca, await svidFor(ca, id('db')));
    const web = openMesh(ca, await svidFor(ca, id('web')));
    streams.push(db, web);
    db.subscribe(['policy']);
    web.subscribe(['policy']);
    expect(namesIn(await next(db))).toEqual({ defaultPolicy: 'deny', names: ['shop/db-allows-api', 'ztmesh-system/no-legacy'] });
    expect(namesIn(await next(web)).names).toEqual(['ztmesh-system/no-legacy']);
    expect(lists()).toBe(1);

    // ADDED: a policy for web reaches web only.
    api.apply(policyDoc('shop', 'web-from-lb', { selector: { serviceAccounts: ['web'] }, rules: [{ from: [{ namespaces: ['ingress'] }] }] }));
    expect(namesIn(await next(web)).names).toEqual(['shop/web-from-lb', 'ztmesh-system/no-legacy']);
    // MODIFIED: db's port.
    api.apply(dbAllowsApi(6432));
    const modified = await next(db);
    expect(modified.policy!.policies.find((p) => p.name === 'db-allows-api')!.rules[0]!.to[0]!.ports).toEqual([6432]);
    expect(web.pending()).toBe(0);

    // The watch drops: it resumes from the last resourceVersion it saw (no relist), and the next change arrives.
    const rv = api.revision;
    expect(api.dropWatches()).toBeGreaterThan(0);
    await expect.poll(() => watches().at(-1), { timeout: 10_000 }).toBe(rv);
    api.apply(dbAllowsApi(7432));
    expect((await next(db)).policy!.policies.find((p) => p.name === 'db-allows-api')!.rules[0]!.to[0]!.ports).toEqual([7432]);
    expect(lists()).toBe(1);

    // 410 Gone: the history is compacted while the watch is down, and an object is deleted meanwhile: a relist finds it gone.
    api.dropWatches();
    api.remove('AuthorizationPolicy', 'web-from-lb', 'shop');
    api.compact();
    expect(namesIn(await next(web)).names).toEqual(['ztmesh-system/no-legacy']);
    await expect.poll(lists, { timeout: 10_000 }).toBe(2);

    // An invalid MODIFIED: refused with a Warning Event naming the field; db keeps the last valid version.
    api.apply(dbAllowsApi(8432, 'AUDIT'));
    await expect.poll(() => api.requests.filter((r) => r.method === 'POST' && r.path === '/api/v1/namespaces/shop/events').map((r) => r.body), { timeout: 10_000 })
      .toContainEqual(expect.objectContaining({
        type: 'Warning', reason: 'InvalidAuthorizationPolicy', involvedObject: expect.objectContaining({ kind: 'AuthorizationPolicy', name: 'db-allows-api', namespace: 'shop' }),
        message: expect.stringMatching(/^spec\.action: "AUDIT" is not one of ALLOW, DENY\. .*last valid version/),
      }));
    const report = await (await fetch(`http://${ca.adminAddress}/policies`)).json() as { invalid: { object: string; field: string; lastValidInForce: boolean }[] };
    expect(report.invalid).toEqual([expect.objectContaining({ source: 'kubernetes', object: 'shop/db-allows-api', field: 'spec.action', lastValidInForce: true })]);
    // DELETED: the object goes, and with it the last valid version.
    api.remove('AuthorizationPolicy', 'db-allows-api', 'shop');
    expect(namesIn(await next(db)).names).toEqual(['ztmesh-system/no-legacy']);
  });
});

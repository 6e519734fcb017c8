// On Kubernetes `ztmesh ca status --k8s` gathers every CA replica through the API server: it lists the CA's pods and
// reads each Running one's GET /identities through pods/proxy, with the user's kubeconfig. Two real CA replicas
// (sharing one state directory, as the Secret mount does) issue to three IDs, one renewed at the other replica; the
// merged view lists all three once, each from the replica of its latest certificate. A user the Role of
// deploy/kubernetes/ca-status-rbac.yaml is bound to may look; one without pods/proxy is told what to grant (exit 2).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chainPem, initCa, makeCsr, signCsr, startCa, type TestCaServer } from '../helpers/ca.js';
import { runCli } from '../helpers/cli.js';
import { DEPLOY_BASE, yamlDocs } from '../helpers/deploy-manifests.js';
import { startFakeApiServer, type FakeApiServer } from '../helpers/fake-apiserver.js';
import { writeKubeconfig } from '../helpers/k8s-install.js';

const NS = 'ztmesh-system';
const [WEB, API, BATCH] = ['web', 'api', 'batch'].map((sa) => `spiffe://example.org/ns/shop/sa/${sa}`) as [string, string, string];
let api: FakeApiServer;
const replicas: TestCaServer[] = [];

const pod = (name: string, adminAddress: string | undefined, phase = 'Running') => ({
  apiVersion: 'v1', kind: 'Pod',
  metadata: { name, namespace: NS, labels: { 'app.kubernetes.io/name': 'ztmesh-ca' } },
  spec: { containers: [{ name: 'ca', ports: [{ name: 'grpc', containerPort: 15012 }, { name: 'admin', containerPort: Number(adminAddress?.split(':')[1] ?? 15010) }] }] },
  status: { phase, ...(adminAddress ? { podIP: '127.0.0.1' } : {}) },
});

/** Issues to `id` at `ca` with a join token, or by renewal with `held`. */
async function issue(ca: TestCaServer, id: string, held?: { cert: string; key: string }): Promise<{ cert: string; key: string }> {
  const { csr, keyPem } = makeCsr(id);
  const res = await signCsr(ca.client(held ?? {}), csr, held ? {} : { token: await ca.mintToken(id) });
  return { cert: chainPem(res), key: keyPem };
}

beforeAll(async () => {
  api = await startFakeApiServer();
  // One state directory, one issuance log per replica (each pod has its own emptyDir).
  const dir = await initCa();
  for (const n of [0, 1]) replicas.push(await startCa({ dir, args: ['--audit-log', join(dir, '..', `replica-${n}-audit.log`)] }));
  await issue(replicas[0]!, WEB);
  await issue(replicas[1]!, API);
  const batch = await issue(replicas[0]!, BATCH);
  await issue(replicas[1]!, BATCH, batch);
  api.apply(pod('ztmesh-ca-0', replicas[0]!.adminAddress));
  api.apply(pod('ztmesh-ca-1', replicas[1]!.adminAddress));
  api.apply(pod('ztmesh-ca-2', undefined, 'Pending'));
  for (const o of yamlDocs(readFileSync(join(DEPLOY_BASE, 'ca-status-rbac.yaml'), 'utf8'))) api.apply(o);
  api.apply({ apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: { name: 'ops', namespace: NS },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'ztmesh-ca-status' }, subjects: [{ kind: 'Group', name: 'ops' }] });
  api.apply({ apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name: 'pod-reader', namespace: NS }, rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['list'] }] });
  api.apply({ apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: { name: 'viewers', namespace: NS },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'pod-reader' }, subjects: [{ kind: 'User', name: 'bob' }] });
}, 60_000);
afterAll(async () => {
  for (const r of replicas) await r.stop();
  await api?.close();
});

describe('ztmesh ca status --k8s', () => {
  it('lists every ID once, from the replica of its latest certificate, through pods/proxy', async () => {
    const kubeconfig = writeKubeconfig(api, { ops: { user: { token: api.addApiUser('alice', ['ops']) } } });
    const r = await runCli(['ca', 'status', '--k8s', '--kubeconfig', kubeconfig, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report).toMatchObject({ scope: 'cluster', tracked: 3, replicas: [{ replica: 'ztmesh-ca-0', tracked: 2, rebuilt: true }, { replica: 'ztmesh-ca-1', tracked: 2, rebuilt: true }],
      skipped: [{ replica: 'ztmesh-ca-2', why: 'pod Pending' }], trustBundle: { streams: 0, acked: {} }, bundleAcks: {} });
    const byId = Object.fromEntries(report.identities.map((i: { spiffeId: string }) => [i.spiffeId, i]));
    expect(byId[WEB]).toMatchObject({ replica: 'ztmesh-ca-0', method: 'join_token', issuancesLastHour: 1 });
    expect(byId[API]).toMatchObject({ replica: 'ztmesh-ca-1', method: 'join_token' });
    expect(byId[BATCH]).toMatchObject({ replica: 'ztmesh-ca-1', method: 'renewal', issuancesLastHour: 2 });
    expect(api.requests.filter((q) => q.path.includes('/proxy/')).map((q) => q.path).sort()).toEqual([
      `/api/v1/namespaces/${NS}/pods/ztmesh-ca-0:${replicas[0]!.adminAddress.split(':')[1]}/proxy/identities`,
      `/api/v1/namespaces/${NS}/pods/ztmesh-ca-1:${replicas[1]!.adminAddress.split(':')[1]}/proxy/identities`,
    ].sort());

    const text = await runCli(['ca', 'status', '--k8s', '--kubeconfig', kubeconfig]);
    expect(text.stdout).toMatch(/^CA replicas through https:\/\/127\.0\.0\.1:\d+ \(context ops\), namespace ztmesh-system: 3 SPIFFE IDs/m);
    expect(text.stdout).toMatch(/^ {2}ztmesh-ca-2: not asked \(pod Pending\)$/m);
    expect(text.stdout).toMatch(new RegExp(`^ok\\s+${BATCH}\\s+renewal\\s+\\S+\\s+in \\S+\\s+in \\S+\\s+2\\s+none\\s+ztmesh-ca-1\\s`, 'm'));
  });

  it('a user who may list the pods but not proxy to them is told what to grant, exit 2', async () => {
    const kubeconfig = writeKubeconfig(api, { bob: { user: { token: api.addApiUser('bob') } } });
    const r = await runCli(['ca', 'status', '--k8s', '--kubeconfig', kubeconfig]);
    expect(r.code).toBe(2);
    expect(r.stdout).toMatch(/^ {2}ztmesh-ca-0: NOT READ: cannot get pods\/proxy in namespace ztmesh-system: forbidden; grant verb "get" on resource "pods\/proxy"/m);
  });
});

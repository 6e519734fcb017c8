// `ztmesh check` names each broken part of an install with ✘ and a hint, and exits 1: a trust bundle ConfigMap that
// differs from the CA's roots, a caBundle that does not verify the webhook, no available CA replica, Kubernetes 1.28
// without --legacy-sidecar, and a CA without TokenReview permission; plus the warnings that do not fail it.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { startFakeApiServer, type FakeApiServer } from '../helpers/fake-apiserver.js';
import { deploymentStatus, installHealthy, MESHED_NS, writeKubeconfig } from '../helpers/k8s-install.js';
import { makeCa } from '../helpers/pki.js';

let api: FakeApiServer;
let kubeconfig: string;
beforeAll(async () => {
  api = await startFakeApiServer();
  kubeconfig = writeKubeconfig(api, { admin: { user: { token: api.adminToken } } });
});
beforeEach(async () => { await installHealthy(api); });
afterAll(async () => { await api?.close(); });

const check = async (...args: string[]) => {
  const r = await runCli(['check', '--kubeconfig', kubeconfig, ...args]);
  const failed = r.stdout.split('\n').filter((l) => l.includes('✘ ') && !/failed, \d+ warning/.test(l));
  return { ...r, failed, hintOf: (title: string) => r.stdout.split('\n')[r.stdout.split('\n').findIndex((l) => l.includes(title)) + 1] ?? '' };
};
const otherRoot = () => makeCa('cluster.local').certPem;

describe('ztmesh check names each fault', () => {
  it('a trust bundle ConfigMap that differs from the CA\'s roots', async () => {
    api.get('ConfigMap', 'ztmesh-trust-bundle', 'ztmesh-system')!.data['roots.pem'] = otherRoot();
    const r = await check();
    expect(r.code).toBe(1);
    expect(r.failed).toEqual([expect.stringMatching(/✘ ConfigMap ztmesh-trust-bundle in ztmesh-system: does not equal the CA's roots: 1 of the CA's 1 missing, 1 other$/)]);
    expect(r.hintOf('ConfigMap ztmesh-trust-bundle in ztmesh-system')).toMatch(/^ {6}hint: make it equal the Secret's bundle\.pem: kubectl -n ztmesh-system create configmap ztmesh-trust-bundle/);
  });

  it('a meshed namespace\'s copy that differs fails; one not yet written only warns', async () => {
    api.get('ConfigMap', 'ztmesh-trust-bundle', MESHED_NS)!.data['roots.pem'] = otherRoot();
    const differs = await check();
    expect(differs.failed).toEqual([expect.stringMatching(/✘ ConfigMap ztmesh-trust-bundle in shop: does not equal the CA's roots/)]);
    expect(differs.hintOf('in shop')).toMatch(/bundle_distribution_failed/);
    api.remove('ConfigMap', 'ztmesh-trust-bundle', MESHED_NS);
    const missing = await check();
    expect(missing.code).toBe(0);
    expect(missing.stdout).toMatch(/‼ ConfigMap ztmesh-trust-bundle in shop: not found\n {6}hint: the webhook writes it within seconds of the namespace being labelled/);
  });

  it('a caBundle that does not verify the webhook\'s serving certificate', async () => {
    const mwc = api.get('MutatingWebhookConfiguration', 'ztmesh-sidecar-injector')!;
    mwc.webhooks[1].clientConfig.caBundle = Buffer.from(otherRoot()).toString('base64');
    const r = await check();
    expect(r.code).toBe(1);
    expect(r.failed).toEqual([expect.stringMatching(/✘ MutatingWebhookConfiguration ztmesh-sidecar-injector: the caBundle of webhook object\.sidecar-injector\.ztmesh\.io does not verify the webhook's serving certificate/)]);
    expect(r.hintOf('MutatingWebhookConfiguration')).toMatch(/ca_bundle_sync_failed/);
  });

  it('no available CA replica; one replica only warns', async () => {
    const ca = api.get('Deployment', 'ztmesh-ca', 'ztmesh-system')!;
    ca.status = deploymentStatus(2, 0);
    const none = await check();
    expect(none.code).toBe(1);
    expect(none.failed).toEqual([expect.stringMatching(/✘ Deployment ztmesh-ca: 0 of 2 replicas available$/)]);
    expect(none.hintOf('Deployment ztmesh-ca')).toMatch(/hint: kubectl -n ztmesh-system describe deployment ztmesh-ca and kubectl -n ztmesh-system logs deployment\/ztmesh-ca/);
    ca.status = deploymentStatus(2, 1);
    const one = await check();
    expect(one.code).toBe(0);
    expect(one.stdout).toMatch(/‼ Deployment ztmesh-ca: 1 of 2 replicas available: no redundancy\n {6}hint: run at least 2 replicas/);
  });

  it('Kubernetes 1.28 without --legacy-sidecar fails; with it (flag or webhook args) only warns', async () => {
    api.gitVersion = 'v1.28.3';
    const r = await check();
    expect(r.code).toBe(1);
    expect(r.failed).toEqual([expect.stringMatching(/✘ Kubernetes version: v1\.28\.3 has no native sidecars \(1\.29\+\)/)]);
    expect(r.hintOf('Kubernetes version')).toMatch(/hint: inject with --legacy-sidecar/);
    const pre = await check('--pre');
    expect(pre.code).toBe(1);
    expect((await check('--legacy-sidecar')).stdout).toMatch(/‼ Kubernetes version: v1\.28\.3 has no native sidecars; --legacy-sidecar is in use/);
    api.get('Deployment', 'ztmesh-webhook', 'ztmesh-system')!.spec.template.spec.containers[0].args.push('--legacy-sidecar');
    expect((await check()).code).toBe(0);
  });

  it('a CA ServiceAccount without TokenReview permission', async () => {
    api.remove('ClusterRoleBinding', 'ztmesh-ca-tokenreview');
    const r = await check();
    expect(r.code).toBe(1);
    expect(r.failed).toEqual([expect.stringMatching(/✘ TokenReview permission of ztmesh-system\/ztmesh-ca: may not create tokenreviews/)]);
    expect(r.hintOf('TokenReview permission')).toMatch(/hint: apply the ClusterRole and ClusterRoleBinding ztmesh-ca-tokenreview/);
  });

  it('a CA ServiceAccount that may not list and watch what membership is made of', async () => {
    api.remove('ClusterRoleBinding', 'ztmesh-ca-mesh-watch');
    const r = await check();
    expect(r.code).toBe(1);
    expect(r.failed).toEqual([expect.stringMatching(/✘ membership watch permission of ztmesh-system\/ztmesh-ca: may not list pods, watch pods, list services, watch services, list endpointslices\.discovery\.k8s\.io, watch endpointslices\.discovery\.k8s\.io/)]);
    expect(r.hintOf('membership watch permission')).toMatch(/hint: apply the ClusterRole and ClusterRoleBinding ztmesh-ca-mesh-watch/);
  });

  it('AuthorizationPolicies: an invalid object named with its field, a CA that may not watch them, the CRD missing', async () => {
    api.apply({ apiVersion: 'ztmesh.io/v1alpha1', kind: 'AuthorizationPolicy', metadata: { name: 'db', namespace: 'shop' }, spec: { action: 'MAYBE' } });
    api.remove('ClusterRoleBinding', 'ztmesh-ca-policy-watch');
    let r = await check();
    expect(r.code).toBe(1);
    expect(r.failed).toEqual([
      expect.stringMatching(/✘ AuthorizationPolicy watch permission of ztmesh-system\/ztmesh-ca: may not list authorizationpolicies\.ztmesh\.io, watch authorizationpolicies\.ztmesh\.io, create events/),
      expect.stringMatching(/✘ AuthorizationPolicies: 1 invalid .*kubernetes:shop\/db:spec\.action: "MAYBE" is not one of ALLOW, DENY/),
    ]);
    expect(r.hintOf('AuthorizationPolicy watch permission')).toMatch(/hint: apply the ClusterRole and ClusterRoleBinding ztmesh-ca-policy-watch/);
    api.remove('CustomResourceDefinition', 'authorizationpolicies.ztmesh.io');
    r = await check();
    expect(r.failed).toContainEqual(expect.stringMatching(/✘ CustomResourceDefinition authorizationpolicies\.ztmesh\.io: not installed/));
    expect(r.hintOf('CustomResourceDefinition')).toMatch(/kubectl apply -k deploy\/kubernetes\/crds/);
  });

  it('a meshed namespace whose Pod Security refuses NET_ADMIN, in transparent mode only', async () => {
    api.get('Namespace', MESHED_NS)!.metadata.labels['pod-security.kubernetes.io/enforce'] = 'restricted';
    const r = await check();
    expect(r.failed).toEqual([expect.stringMatching(/✘ Pod Security of namespace shop: enforces "restricted", which refuses the NET_ADMIN and NET_RAW/)]);
    const args = api.get('Deployment', 'ztmesh-webhook', 'ztmesh-system')!.spec.template.spec.containers[0].args as string[];
    args[args.indexOf('--mode=transparent')] = '--mode=explicit';
    expect((await check()).code).toBe(0);
  });

  it('a CA Secret whose key does not match its certificate, and a missing Secret', async () => {
    api.get('Secret', 'ztmesh-ca-signing', 'ztmesh-system')!.data['ca.key'] = Buffer.from(makeCa().keyPem).toString('base64');
    const r = await check();
    expect(r.failed[0]).toMatch(/✘ CA Secret ztmesh-ca-signing: ca\.key does not match the certificate in ca\.pem/);
    api.remove('Secret', 'ztmesh-ca-signing', 'ztmesh-system');
    const gone = await check('-o', 'json');
    const secret = JSON.parse(gone.stdout).checks.find((c: { id: string }) => c.id === 'ca-secret');
    expect(secret).toMatchObject({ status: 'fail', detail: 'Secret ztmesh-ca-signing not found', hint: expect.stringContaining('ztmesh ca init') });
  });
});

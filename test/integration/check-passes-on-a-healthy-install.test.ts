// `ztmesh check` through a kubeconfig against the stand-in API server holding a healthy install (the real
// deploy/kubernetes objects, the CA Secret from `ca init --k8s-secret`, running Deployments, the caBundle written):
// every check passes, exit 0; `-o json` says the same for scripts; `--pre` passes for a cluster admin.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { startFakeApiServer, type FakeApiServer } from '../helpers/fake-apiserver.js';
import { installHealthy, writeKubeconfig } from '../helpers/k8s-install.js';

let api: FakeApiServer;
let kubeconfig: string;
beforeAll(async () => {
  api = await startFakeApiServer();
  await installHealthy(api);
  kubeconfig = writeKubeconfig(api, { 'kind-dev': { user: { token: api.adminToken } } });
});
afterAll(async () => { await api?.close(); });

describe('ztmesh check on a healthy install', () => {
  it('prints ✔ for every check and exits 0', async () => {
    const r = await runCli(['check', '--kubeconfig', kubeconfig]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^ztmesh check: context kind-dev \(https:\/\/127\.0\.0\.1:\d+\), namespace ztmesh-system\n/);
    expect(r.stdout).not.toMatch(/[‼✘] /);
    for (const line of [
      /✔ API server: https:\/\/127\.0\.0\.1:\d+ answers \(v1\.30\.2\)/,
      /✔ Kubernetes version: v1\.30\.2 runs native sidecars/,
      /✔ CA Secret ztmesh-ca-signing: certificate and key match; bundle\.pem holds its root \(1 root\)/,
      /✔ ConfigMap ztmesh-trust-bundle in ztmesh-system: equals the CA's roots \(1\)/,
      /✔ Deployment ztmesh-ca: 2 of 2 replicas available/,
      /✔ TokenReview permission of ztmesh-system\/ztmesh-ca: may create tokenreviews \(RBAC: allowed by ClusterRoleBinding "ztmesh-ca-tokenreview" of ClusterRole "ztmesh-ca-tokenreview" to ServiceAccount "ztmesh-ca\/ztmesh-system"\)/,
      /✔ membership watch permission of ztmesh-system\/ztmesh-ca: may list and watch pods, services, endpointslices\.discovery\.k8s\.io/,
      /✔ AuthorizationPolicy watch permission of ztmesh-system\/ztmesh-ca: may list and watch authorizationpolicies\.ztmesh\.io and create events/,
      /✔ CustomResourceDefinition authorizationpolicies\.ztmesh\.io: installed/,
      /✔ AuthorizationPolicies: 0 valid, none refused/,
      /✔ MutatingWebhookConfiguration ztmesh-sidecar-injector: the caBundle of all 2 webhooks verifies/,
      /✔ ConfigMap ztmesh-trust-bundle in shop: equals the CA's roots/,
      /✔ Pod Security of namespace shop: enforces "privileged", which allows the ztmesh-init container/,
    ]) expect(r.stdout).toMatch(line);
    expect(r.stdout).toMatch(/✔ 0 failed, 0 warnings, \d+ passed\n$/);
  });

  it('-o json gives the same result for scripts', async () => {
    const r = await runCli(['check', '--kubeconfig', kubeconfig, '-o', 'json']);
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report).toMatchObject({ context: 'kind-dev', namespace: 'ztmesh-system', pre: false, ok: true, summary: { fail: 0, warn: 0 } });
    expect(report.checks.map((c: { id: string }) => c.id)).toEqual([
      'api', 'k8s-version', 'namespace', 'ca-secret', 'trust-bundle', 'ca-replicas', 'tokenreview-rbac', 'mesh-watch-rbac',
      'policy-watch-rbac', 'policy-crd', 'policy-objects', 'webhook-replicas', 'webhook-config',
      'trust-bundle:shop', 'pod-security:shop',
    ]);
  });

  it('--pre passes for a cluster admin: API, version and permission to create the control plane', async () => {
    const r = await runCli(['check', '--pre', '--kubeconfig', kubeconfig]);
    expect(r.code, r.stdout).toBe(0);
    expect(r.stdout).toMatch(/✔ permission to install the control plane: you may create all 11 kinds of object the install creates/);
  });
});

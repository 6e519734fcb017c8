// The webhook's trust-bundle distribution against the stand-in API server: its ServiceAccount with the RBAC deploy/
// gives it (list and watch Namespaces and Pods cluster-wide; ConfigMap ztmesh-trust-bundle written only where a
// RoleBinding to bundle-writer allows), and a BundleDistributor running as that account.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BundleDistributor, type BundleDistributorOptions } from '../../src/k8s/bundle-distributor.js';
import { createKubeClient, inClusterConfig } from '../../src/k8s/kube-client.js';
import type { FakeApiServer } from './fake-apiserver.js';
import { tempDir } from './temp-dir.js';

export const WEBHOOK_SA = 'system:serviceaccount:ztmesh-system:ztmesh-webhook';

export const namespace = (name: string, inject?: string) => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name, ...(inject ? { labels: { 'ztmesh.io/inject': inject } } : {}) } });

/** Lets the webhook write the trust bundle ConfigMap in `ns`. */
export const writerBinding = (ns: string) => ({
  apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: { name: 'bundle-writer', namespace: ns },
  roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'bundle-writer' }, subjects: [{ kind: 'User', name: WEBHOOK_SA }],
});

/** The ConfigMap's roots.pem in `ns`, if the webhook wrote one. */
export const rootsIn = (api: FakeApiServer, ns: string): string | undefined => api.configMaps.get(`${ns}/ztmesh-trust-bundle`)?.data?.['roots.pem'];

/** API requests for ConfigMaps of `ns` so far. */
export const configMapRequestsTo = (api: FakeApiServer, ns: string): number => api.requests.filter((r) => r.path.includes(`/namespaces/${ns}/configmaps`)).length;

/** The webhook's cluster-wide RBAC; the namespaces it may write in are bound with writerBinding(). */
export function applyWebhookRbac(api: FakeApiServer): void {
  api.apply({ apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: 'watch' }, rules: [{ apiGroups: [''], resources: ['namespaces', 'pods'], verbs: ['list', 'watch'] }] });
  api.apply({
    apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', metadata: { name: 'watch' },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'watch' }, subjects: [{ kind: 'User', name: WEBHOOK_SA }],
  });
  api.apply({
    apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: 'bundle-writer' }, rules: [
      { apiGroups: [''], resources: ['configmaps'], resourceNames: ['ztmesh-trust-bundle'], verbs: ['get', 'patch'] },
      { apiGroups: [''], resources: ['configmaps'], verbs: ['create'] },
    ],
  });
}

/** A distributor with the webhook's token for `api`, synced with its watches and holding `roots`. */
export async function startDistributor(api: FakeApiServer, roots: string, opts: Omit<BundleDistributorOptions, 'client'>): Promise<BundleDistributor> {
  const tokenFile = join(tempDir('ztmesh-webhook-sa-'), 'token');
  writeFileSync(tokenFile, api.addApiUser(WEBHOOK_SA, ['system:serviceaccounts']));
  const d = new BundleDistributor({
    ...opts,
    client: createKubeClient(inClusterConfig({}, { server: api.url, caFile: api.caFile, tokenFile, serverName: api.serverName })),
  });
  d.setRoots(roots);
  d.start();
  await d.whenSynced();
  return d;
}

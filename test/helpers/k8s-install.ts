// A whole ztmesh install in the stand-in API server, as `kubectl apply` of the CA Secret (from `ca init --k8s-secret`)
// and of deploy/kubernetes would leave it once running: Deployments with available replicas, the webhook's caBundle
// written, a meshed namespace with its trust bundle copy. Plus kubeconfig files for `ztmesh check`.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { caManifests } from '../../src/ca/manifests.js';
import { initCaDir } from '../../src/ca/state-dir.js';
import { renderInstall, yamlDocs } from './deploy-manifests.js';
import type { FakeApiServer } from './fake-apiserver.js';
import { tempDir } from './temp-dir.js';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

export const MESHED_NS = 'shop';

/** What a Deployment's status says when `available` of its replicas are (the API omits zero counts). */
export function deploymentStatus(replicas: number, available: number): Obj {
  return {
    observedGeneration: 1, replicas, updatedReplicas: replicas,
    ...(available ? { readyReplicas: available, availableReplicas: available } : {}),
    ...(replicas - available ? { unavailableReplicas: replicas - available } : {}),
    conditions: [{
      type: 'Available', status: available ? 'True' : 'False', reason: available ? 'MinimumReplicasAvailable' : 'MinimumReplicasUnavailable',
      message: available ? 'Deployment has minimum availability.' : 'Deployment does not have minimum availability.',
      lastUpdateTime: '2026-11-28T10:00:00Z', lastTransitionTime: '2026-11-28T10:00:00Z',
    }],
  };
}

/** Loads a healthy install into `api` (replacing what was there); returns the CA's files. */
export async function installHealthy(api: FakeApiServer): Promise<{ bundlePem: string; caDir: string }> {
  const caDir = join(tempDir('ztmesh-install-'), 'ca');
  const files = await initCaDir(caDir, 'cluster.local', Date.now());
  const caBundle = Buffer.from(files.bundlePem).toString('base64');
  for (const o of [...yamlDocs(caManifests(files)), ...renderInstall()]) {
    if (o.kind === 'Deployment') o.status = deploymentStatus(o.spec.replicas ?? 1, o.spec.replicas ?? 1);
    if (o.kind === 'MutatingWebhookConfiguration') for (const w of o.webhooks) w.clientConfig.caBundle = caBundle;
    api.apply(o);
  }
  api.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: MESHED_NS, labels: { 'ztmesh.io/inject': 'enabled', 'pod-security.kubernetes.io/enforce': 'privileged' } } });
  api.apply({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'ztmesh-trust-bundle', namespace: MESHED_NS }, data: { 'roots.pem': files.bundlePem } });
  api.gitVersion = 'v1.30.2';
  return { bundlePem: files.bundlePem, caDir };
}

/** A kubeconfig user entry: a token, a client certificate, or an exec plugin. */
export type KubeconfigUser = { token: string } | { certPem: string; keyPem: string } | { exec: { command: string; args: string[] } };

/** Writes a kubeconfig with one context per entry of `contexts` (the first is current); returns its path. */
export function writeKubeconfig(api: FakeApiServer, contexts: Record<string, { user: KubeconfigUser; server?: string }>): string {
  const names = Object.keys(contexts);
  const user = (u: KubeconfigUser): Obj => {
    if ('token' in u) return { token: u.token };
    if ('exec' in u) return { exec: { apiVersion: 'client.authentication.k8s.io/v1', command: u.exec.command, args: u.exec.args, interactiveMode: 'Never' } };
    return { 'client-certificate-data': Buffer.from(u.certPem).toString('base64'), 'client-key-data': Buffer.from(u.keyPem).toString('base64') };
  };
  const caData = Buffer.from(api.caPem).toString('base64');
  const config = {
    apiVersion: 'v1', kind: 'Config', 'current-context': names[0],
    clusters: names.map((n) => ({ name: n, cluster: { server: contexts[n]!.server ?? api.url, 'certificate-authority-data': caData, 'tls-server-name': api.serverName } })),
    users: names.map((n) => ({ name: n, user: user(contexts[n]!.user) })),
    contexts: names.map((n) => ({ name: n, context: { cluster: n, user: n } })),
  };
  const file = join(tempDir('ztmesh-kubeconfig-'), 'config');
  writeFileSync(file, stringify(config), { mode: 0o600 });
  return file;
}

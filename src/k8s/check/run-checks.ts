// `ztmesh check`'s reads: asks the API server for what each check needs (install-checks.ts decides) and builds the
// report. An API server that cannot be reached or refuses our credentials ends the run with one ZtmeshError.
import { ZtmeshError } from '../../common/errors.js';
import { CA_SECRET_NAME } from '../../ca/manifests.js';
import { TRUST_BUNDLE_CONFIGMAP } from '../../common/mesh.js';
import { KubeUnreachableError, type KubeClient, type KubeResponse } from '../kube-client.js';
import { WEBHOOK_CONTAINER } from '../own-image.js';
import { checkReport, type CheckReport, type CheckResult } from './check-result.js';
import { MESHED_PODS_PATH, checkProxies } from './proxy-checks.js';
import { POLICY_LIST_PATH, POLICY_WATCH_ACCESS, checkPolicyCrd, checkPolicyObjects, checkPolicyWatchRbac } from './policy-checks.js';
import {
  INSTALL_RESOURCES, MESH_WATCH_ACCESS, checkCaReplicasHint, checkCaSecret, checkInstallRbac, checkMeshWatchRbac, checkNamespace, checkPodSecurity, checkReplicas, checkTokenReviewRbac,
  checkTrustBundle, checkVersion, checkWebhookConfig,
} from './install-checks.js';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** Names the install gives its objects (deploy/kubernetes). */
export const INSTALL = {
  caDeployment: 'ztmesh-ca',
  caServiceAccount: 'ztmesh-ca',
  webhookDeployment: 'ztmesh-webhook',
  webhookConfig: 'ztmesh-sidecar-injector',
  injectLabel: 'ztmesh.io/inject=enabled',
} as const;

export const DEFAULT_CHECK_NAMESPACE = 'ztmesh-system';

export interface CheckOptions {
  namespace: string;
  /** Before install: API, version and the caller's permission to install. */
  pre: boolean;
  /** The user injects with --legacy-sidecar (also read from the webhook's args after install). */
  legacySidecar: boolean;
  /** Also check the meshed pods' sidecars: version against the control plane's, and readiness. */
  proxy?: boolean;
  nowMs: number;
}

const G = { api: 'Kubernetes API', rbac: 'Permissions', ca: 'CA', policy: 'Authorization policy', webhook: 'Webhook', meshed: 'Meshed namespaces', proxy: 'Data plane (--proxy)' } as const;

/** At most this many pages of AuthorizationPolicies are read (500 each). */
const MAX_POLICY_PAGES = 20;

/** Whether the CA Deployment runs with a flag (its container's args). */
function caHasFlag(deployment: Obj | undefined, flag: string): boolean {
  const containers = (deployment?.spec?.template?.spec?.containers ?? []) as Obj[];
  return containers.some((c) => ((c.args ?? []) as string[]).some((a) => a === flag || a === `${flag}=true`));
}

/** The image the webhook injects: its own container's (deploy/kubernetes), or its --image flag. */
function webhookImage(deployment: Obj | undefined): string | undefined {
  const containers = (deployment?.spec?.template?.spec?.containers ?? []) as Obj[];
  const c = containers.find((x) => x.name === WEBHOOK_CONTAINER) ?? containers.find((x) => (x.args ?? [])[0] === 'webhook');
  const flag = ((c?.args ?? []) as string[]).find((a) => a.startsWith('--image='));
  return flag ? flag.slice('--image='.length) : c?.image;
}

/** The webhook container's flags that shape injection: --mode and --legacy-sidecar. */
function webhookFlags(deployment: Obj | undefined): { mode: 'transparent' | 'explicit'; legacySidecar: boolean; known: boolean } {
  const containers = (deployment?.spec?.template?.spec?.containers ?? []) as Obj[];
  const args = (containers.find((c) => (c.args ?? [])[0] === 'webhook') ?? containers[0])?.args as string[] | undefined;
  if (!args) return { mode: 'transparent', legacySidecar: false, known: false };
  const i = args.findIndex((a) => a === '--mode' || a.startsWith('--mode='));
  const mode = i < 0 ? 'transparent' : args[i]!.includes('=') ? args[i]!.split('=')[1] : args[i + 1];
  return { mode: mode === 'explicit' ? 'explicit' : 'transparent', legacySidecar: args.some((a) => a === '--legacy-sidecar' || a === '--legacy-sidecar=true'), known: true };
}

/** Runs every check against the API server behind `client`. */
export async function runChecks(client: KubeClient, meta: { context: string; server: string }, opts: CheckOptions): Promise<CheckReport> {
  const call = async (method: 'GET' | 'POST', path: string, body?: unknown): Promise<KubeResponse> => {
    try {
      return await client.call(method, path, body);
    } catch (e) {
      if (e instanceof KubeUnreachableError) {
        throw new ZtmeshError('k8s_unreachable', `cannot reach the Kubernetes API server of context ${meta.context}: ${e.message}`, { cause: e });
      }
      throw e;
    }
  };
  const ns = opts.namespace;
  const enc = encodeURIComponent;
  const results: CheckResult[] = [];

  const version = await call('GET', '/version');
  if (version.status === 401) throw new ZtmeshError('k8s_unauthorized', `the Kubernetes API server ${meta.server} refused the credentials of context ${meta.context} (HTTP 401)`);
  if (version.status !== 200) throw new ZtmeshError('k8s_unavailable', `the Kubernetes API server ${meta.server} answered GET /version with HTTP ${version.status}`);
  const v = (version.body ?? {}) as Obj;
  results.push({ id: 'api', group: G.api, status: 'ok', title: 'API server', detail: `${meta.server} answers (${String(v.gitVersion ?? 'unknown version')})` });

  if (opts.pre) {
    results.push(checkVersion(G.api, v, opts.legacySidecar));
    const answers = await Promise.all(INSTALL_RESOURCES.map((r) => call('POST', '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews', {
      apiVersion: 'authorization.k8s.io/v1', kind: 'SelfSubjectAccessReview',
      spec: { resourceAttributes: { verb: 'create', group: r.group, resource: r.resource, ...(r.namespaced ? { namespace: ns } : {}) } },
    })));
    results.push(checkInstallRbac(G.rbac, answers));
    return checkReport({ ...meta, namespace: ns, pre: true }, results);
  }

  const webhookDeployment = await call('GET', `/apis/apps/v1/namespaces/${enc(ns)}/deployments/${INSTALL.webhookDeployment}`);
  const flags = webhookFlags(webhookDeployment.status === 200 ? (webhookDeployment.body as Obj) : undefined);
  results.push(checkVersion(G.api, v, opts.legacySidecar || flags.legacySidecar));

  results.push(checkNamespace(G.ca, ns, await call('GET', `/api/v1/namespaces/${enc(ns)}`)));
  const secret = checkCaSecret(G.ca, CA_SECRET_NAME, await call('GET', `/api/v1/namespaces/${enc(ns)}/secrets/${CA_SECRET_NAME}`), opts.nowMs);
  results.push(secret.result);
  const copyHint = `kubectl -n ${ns} create configmap ${TRUST_BUNDLE_CONFIGMAP} --from-file=roots.pem=<CA dir>/bundle.pem --dry-run=client -o yaml | kubectl apply -f -`;
  results.push(checkTrustBundle('trust-bundle', G.ca, ns, await call('GET', `/api/v1/namespaces/${enc(ns)}/configmaps/${TRUST_BUNDLE_CONFIGMAP}`), secret.ca, {
    missing: `create it from the CA's bundle.pem: ${copyHint}`, differs: `make it equal the Secret's bundle.pem: ${copyHint}`,
  }));
  const caDeployment = await call('GET', `/apis/apps/v1/namespaces/${enc(ns)}/deployments/${INSTALL.caDeployment}`);
  results.push(checkReplicas('ca-replicas', G.ca, INSTALL.caDeployment, caDeployment, checkCaReplicasHint(ns, INSTALL.caDeployment)));
  const sa = `system:serviceaccount:${ns}:${INSTALL.caServiceAccount}`;
  const caMay = (resourceAttributes: { verb: string; group: string; resource: string }) => call('POST', '/apis/authorization.k8s.io/v1/subjectaccessreviews', {
    apiVersion: 'authorization.k8s.io/v1', kind: 'SubjectAccessReview',
    spec: { user: sa, groups: ['system:serviceaccounts', `system:serviceaccounts:${ns}`, 'system:authenticated'], resourceAttributes },
  });
  results.push(checkTokenReviewRbac(G.ca, `${ns}/${INSTALL.caServiceAccount}`, await caMay({ verb: 'create', group: 'authentication.k8s.io', resource: 'tokenreviews' })));
  results.push(checkMeshWatchRbac(G.ca, `${ns}/${INSTALL.caServiceAccount}`, await Promise.all(MESH_WATCH_ACCESS.map(caMay))));

  const policyWatch = caHasFlag(caDeployment.status === 200 ? (caDeployment.body as Obj) : undefined, '--k8s-policy-watch');
  results.push(checkPolicyWatchRbac(G.policy, `${ns}/${INSTALL.caServiceAccount}`, policyWatch ? await Promise.all(POLICY_WATCH_ACCESS.map(caMay)) : [], policyWatch));
  const items: Obj[] = [];
  let page = await call('GET', `${POLICY_LIST_PATH}?limit=500`);
  results.push(checkPolicyCrd(G.policy, page));
  for (let n = 0; page.status === 200 && n < MAX_POLICY_PAGES; n++) {
    items.push(...(((page.body as Obj).items ?? []) as Obj[]));
    const token = (page.body as Obj).metadata?.continue;
    if (typeof token !== 'string' || token === '') break;
    page = await call('GET', `${POLICY_LIST_PATH}?limit=500&continue=${enc(token)}`);
  }
  if (page.status === 200) results.push(checkPolicyObjects(G.policy, items));

  results.push(checkReplicas('webhook-replicas', G.webhook, INSTALL.webhookDeployment, webhookDeployment, checkCaReplicasHint(ns, INSTALL.webhookDeployment)));
  results.push(checkWebhookConfig(G.webhook, INSTALL.webhookConfig,
    await call('GET', `/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/${INSTALL.webhookConfig}`), secret.ca));

  const list = await call('GET', `/api/v1/namespaces?labelSelector=${enc(INSTALL.injectLabel)}`);
  const meshed = list.status === 200 ? (((list.body as Obj).items ?? []) as Obj[]) : [];
  if (list.status !== 200) {
    results.push({ id: 'meshed-namespaces', group: G.meshed, status: 'warn', title: 'namespaces labelled ztmesh.io/inject=enabled', detail: `cannot list them: HTTP ${list.status}`, hint: 'run ztmesh check as a user that may list namespaces' });
  } else if (meshed.length === 0) {
    results.push({ id: 'meshed-namespaces', group: G.meshed, status: 'ok', title: 'namespaces labelled ztmesh.io/inject=enabled', detail: 'none yet' });
  }
  for (const n of meshed) {
    const name = String(n.metadata?.name);
    results.push(checkTrustBundle(`trust-bundle:${name}`, G.meshed, name, await call('GET', `/api/v1/namespaces/${enc(name)}/configmaps/${TRUST_BUNDLE_CONFIGMAP}`), secret.ca, {
      missing: 'the webhook writes it within seconds of the namespace being labelled (--distribute-bundle); if it does not, look for bundle_distribution_failed in its log; without the webhook, copy it (docs/kubernetes.md step 4)',
      differs: 'the webhook updates it when the roots change: kubectl -n ztmesh-system logs deploy/ztmesh-webhook (look for bundle_distribution_failed)',
      missingIsWarning: true,
    }));
    results.push(checkPodSecurity(G.meshed, n, flags.mode));
  }
  if (opts.proxy) {
    const pods = await call('GET', MESHED_PODS_PATH);
    if (pods.status !== 200) {
      results.push({ id: 'proxies', group: G.proxy, status: 'fail', title: 'meshed pods', detail: `cannot list pods: HTTP ${pods.status}`, hint: 'run ztmesh check --proxy as a user that may list pods in every namespace' });
    } else {
      results.push(...checkProxies(G.proxy, ((pods.body as Obj).items ?? []) as Obj[], webhookDeployment.status === 200 ? webhookImage(webhookDeployment.body as Obj) : undefined));
    }
  }
  return checkReport({ ...meta, namespace: ns, pre: false }, results);
}

// The decisions of `ztmesh check`, one pure function per check over what the API server answered: Kubernetes
// version, RBAC, the CA Secret, trust bundle copies, replicas, the webhook's caBundle and Pod Security levels.
import { X509Certificate, createPublicKey } from 'node:crypto';
import { humanDuration } from '../../common/duration.js';
import { loadPrivateKey } from '../../pki/keys.js';
import { certsFromPem } from '../../pki/pem.js';
import { assertBundleHoldsCaRoot, parseBundle } from '../../ca/root/trust-bundle.js';
import type { KubeResponse } from '../kube-client.js';
import { MESH_WATCHED } from '../mesh-watch.js';
import type { CheckResult } from './check-result.js';
import { certNotAfterMs } from '../../pki/validity.js';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** Native sidecars (init containers with restartPolicy: Always) are on by default from this minor version. */
export const NATIVE_SIDECAR_MINOR = 29;
/** A CA certificate closer than this to its end gets a warning. */
export const CA_EXPIRY_WARNING_MS = 30 * 86_400_000;
/** The Pod Security levels that refuse the NET_ADMIN and NET_RAW of the transparent-mode init container. */
export const REFUSE_NET_ADMIN = new Set(['baseline', 'restricted']);

/** The CA as the Secret holds it, once its checks passed: what the other checks compare against. */
export interface CaMaterial {
  cert: X509Certificate;
  intermediates: X509Certificate[];
  roots: X509Certificate[];
}

const body = (r: KubeResponse) => (r.body ?? {}) as Obj;
const apiError = (r: KubeResponse) => `HTTP ${r.status}${typeof body(r).message === 'string' ? `: ${body(r).message}` : ''}`;

/** Parses gitVersion ("v1.28.3", "v1.30.2-gke.1") or major/minor ("1", "28+") of GET /version. */
export function kubeMinor(version: Obj): { major: number; minor: number; text: string } | undefined {
  const m = /^v?(\d+)\.(\d+)/.exec(String(version.gitVersion ?? ''));
  const major = Number(m?.[1] ?? String(version.major ?? '').replace(/\D/g, ''));
  const minor = Number(m?.[2] ?? String(version.minor ?? '').replace(/\D/g, ''));
  if (!Number.isInteger(major) || !Number.isInteger(minor) || major === 0) return undefined;
  return { major, minor, text: String(version.gitVersion ?? `v${major}.${minor}`) };
}

export function checkVersion(group: string, version: Obj, legacySidecar: boolean): CheckResult {
  const base = { id: 'k8s-version', group, title: 'Kubernetes version' };
  const v = kubeMinor(version);
  if (!v) return { ...base, status: 'warn', detail: `cannot tell the version from ${JSON.stringify(version).slice(0, 80)}`, hint: 'native sidecars need Kubernetes 1.29 or later; on older clusters use --legacy-sidecar' };
  if (v.major > 1 || v.minor >= NATIVE_SIDECAR_MINOR) return { ...base, status: 'ok', detail: `${v.text} runs native sidecars` };
  if (legacySidecar) {
    return { ...base, status: 'warn', detail: `${v.text} has no native sidecars; --legacy-sidecar is in use`, hint: 'the app may start before its sidecar holds a certificate; Kubernetes 1.29 or later gives the ordering' };
  }
  return { ...base, status: 'fail', detail: `${v.text} has no native sidecars (1.${NATIVE_SIDECAR_MINOR}+), which injection uses by default`,
    hint: 'inject with --legacy-sidecar (ztmesh inject, and the webhook Deployment\'s args), or upgrade to Kubernetes 1.29' };
}

/** What installing the control plane creates (deploy/kubernetes), for SelfSubjectAccessReviews. */
export const INSTALL_RESOURCES: readonly { group: string; resource: string; namespaced: boolean }[] = [
  { group: '', resource: 'namespaces', namespaced: false },
  { group: '', resource: 'serviceaccounts', namespaced: true },
  { group: '', resource: 'secrets', namespaced: true },
  { group: '', resource: 'configmaps', namespaced: true },
  { group: '', resource: 'services', namespaced: true },
  { group: 'apps', resource: 'deployments', namespaced: true },
  { group: 'policy', resource: 'poddisruptionbudgets', namespaced: true },
  { group: 'rbac.authorization.k8s.io', resource: 'clusterroles', namespaced: false },
  { group: 'rbac.authorization.k8s.io', resource: 'clusterrolebindings', namespaced: false },
  { group: 'admissionregistration.k8s.io', resource: 'mutatingwebhookconfigurations', namespaced: false },
  { group: 'apiextensions.k8s.io', resource: 'customresourcedefinitions', namespaced: false },
];

const qualified = (r: { group: string; resource: string }) => (r.group ? `${r.resource}.${r.group}` : r.resource);

/** `answers[i]` is the SelfSubjectAccessReview answer for INSTALL_RESOURCES[i]. */
export function checkInstallRbac(group: string, answers: readonly KubeResponse[]): CheckResult {
  const base = { id: 'rbac-install', group, title: 'permission to install the control plane' };
  const bad = answers.findIndex((a) => a.status !== 201 && a.status !== 200);
  if (bad >= 0) return { ...base, status: 'warn', detail: `SelfSubjectAccessReview failed: ${apiError(answers[bad]!)}`, hint: 'try kubectl auth can-i create clusterroles' };
  const denied = INSTALL_RESOURCES.filter((_, i) => body(answers[i]!).status?.allowed !== true).map(qualified);
  if (denied.length) {
    return { ...base, status: 'fail', detail: `you may not create ${denied.join(', ')}`, hint: 'install as a cluster administrator (kubectl auth can-i create clusterroles)' };
  }
  return { ...base, status: 'ok', detail: `you may create all ${INSTALL_RESOURCES.length} kinds of object the install creates` };
}

function notFoundOr(r: KubeResponse, what: string, base: Omit<CheckResult, 'status' | 'detail'>, hint: string): CheckResult | undefined {
  if (r.status === 404) return { ...base, status: 'fail', detail: `${what} not found`, hint };
  if (r.status === 403) return { ...base, status: 'fail', detail: `cannot read ${what}: ${apiError(r)}`, hint: 'run ztmesh check with a user that may read it (kubectl auth can-i get ...)' };
  if (r.status !== 200) return { ...base, status: 'fail', detail: `cannot read ${what}: ${apiError(r)}`, hint: 'is the API server healthy? kubectl get --raw /readyz' };
  return undefined;
}

const INSTALL_HINT = 'install the control plane: kubectl apply -k deploy/kubernetes (docs/kubernetes.md step 3)';

export function checkNamespace(group: string, ns: string, r: KubeResponse): CheckResult {
  const base = { id: 'namespace', group, title: `namespace ${ns}` };
  return notFoundOr(r, `namespace ${ns}`, base, INSTALL_HINT) ?? { ...base, status: 'ok', detail: 'exists' };
}

const decode = (b64: unknown) => (typeof b64 === 'string' ? Buffer.from(b64, 'base64').toString('utf8') : undefined);

/** The CA Secret: present, its certificate and key match, and its bundle holds the root the certificate leads to. */
export function checkCaSecret(group: string, name: string, r: KubeResponse, nowMs: number): { result: CheckResult; ca?: CaMaterial } {
  const base = { id: 'ca-secret', group, title: `CA Secret ${name}` };
  const secretHint = `create it: ztmesh ca init --dir ./ztmesh-ca --k8s-secret ztmesh-ca-secret.yaml && kubectl apply -f ztmesh-ca-secret.yaml (docs/kubernetes.md step 2)`;
  const failed = notFoundOr(r, `Secret ${name}`, base, secretHint);
  if (failed) return { result: failed };
  const data = (body(r).data ?? {}) as Record<string, string>;
  const fail = (detail: string, hint: string) => ({ result: { ...base, status: 'fail' as const, detail, hint } });
  const missing = ['ca.pem', 'ca.key', 'bundle.pem'].filter((k) => !data[k]);
  if (missing.length) return fail(`has no ${missing.join(', ')}`, secretHint);
  let cert: X509Certificate;
  let intermediates: X509Certificate[];
  try {
    cert = new X509Certificate(certsFromPem(decode(data['ca.pem'])!, 'ca.pem')[0]!);
    intermediates = data['chain.pem'] ? certsFromPem(decode(data['chain.pem'])!, 'chain.pem').map((d) => new X509Certificate(d)) : [];
  } catch (e) {
    return fail(`ca.pem or chain.pem is not a PEM certificate: ${(e as Error).message}`, secretHint);
  }
  try {
    const key = loadPrivateKey(decode(data['ca.key'])!, 'ca.key');
    const spki = (k: Parameters<typeof createPublicKey>[0]) => createPublicKey(k).export({ type: 'spki', format: 'der' });
    if (!spki(key).equals(cert.publicKey.export({ type: 'spki', format: 'der' }))) throw new Error('mismatch');
  } catch {
    return fail('ca.key does not match the certificate in ca.pem', 'the Secret must hold the CA\'s own certificate and key: re-create it from the CA directory');
  }
  let roots: X509Certificate[];
  try {
    roots = parseBundle(decode(data['bundle.pem'])!, 'bundle.pem').roots;
    assertBundleHoldsCaRoot(roots, { cert, intermediates }, 'bundle.pem');
  } catch (e) {
    return fail((e as Error).message, 'put the CA\'s root (and any root still trusted) into bundle.pem of the Secret');
  }
  const left = certNotAfterMs(cert) - nowMs;
  const ca = { cert, intermediates, roots };
  if (left <= 0) return { result: { ...base, status: 'fail', detail: `ca.pem expired ${cert.validTo}`, hint: 'rotate the CA (docs/ca.md "Trust bundle")' }, ca };
  const detail = `certificate and key match; bundle.pem holds its root (${roots.length} root${roots.length === 1 ? '' : 's'}); ca.pem valid for ${humanDuration(left)}`;
  if (left < CA_EXPIRY_WARNING_MS) return { result: { ...base, status: 'warn', detail, hint: 'rotate the CA before it expires (docs/ca.md "Trust bundle")' }, ca };
  return { result: { ...base, status: 'ok', detail }, ca };
}

const fingerprints = (certs: readonly X509Certificate[]) => new Set(certs.map((c) => c.fingerprint256));

/** A trust bundle ConfigMap (in the control plane's namespace or a meshed one) against the CA's roots. */
export function checkTrustBundle(id: string, group: string, where: string, r: KubeResponse, ca: CaMaterial | undefined, hints: { missing: string; differs: string; missingIsWarning?: boolean }): CheckResult {
  const base = { id, group, title: `ConfigMap ztmesh-trust-bundle in ${where}` };
  if (r.status === 404) return { ...base, status: hints.missingIsWarning ? 'warn' : 'fail', detail: 'not found', hint: hints.missing };
  const failed = notFoundOr(r, 'the ConfigMap', base, hints.missing);
  if (failed) return failed;
  if (!ca) return { ...base, status: 'warn', detail: 'cannot compare: the CA Secret could not be checked', hint: 'fix the CA Secret first' };
  let roots: X509Certificate[];
  try {
    roots = parseBundle(String(body(r).data?.['roots.pem'] ?? ''), 'roots.pem').roots;
  } catch (e) {
    return { ...base, status: 'fail', detail: `roots.pem: ${(e as Error).message}`, hint: hints.differs };
  }
  const want = fingerprints(ca.roots);
  const have = fingerprints(roots);
  const lacking = [...want].filter((f) => !have.has(f)).length;
  const extra = [...have].filter((f) => !want.has(f)).length;
  if (lacking || extra) {
    return { ...base, status: 'fail', detail: `does not equal the CA's roots: ${lacking} of the CA's ${want.size} missing, ${extra} other${extra === 1 ? '' : 's'}`, hint: hints.differs };
  }
  return { ...base, status: 'ok', detail: `equals the CA's roots (${want.size})` };
}

/** A Deployment's available replicas: at least one, and a warning below two. */
export function checkReplicas(id: string, group: string, name: string, r: KubeResponse, logsHint: string): CheckResult {
  const base = { id, group, title: `Deployment ${name}` };
  const failed = notFoundOr(r, `Deployment ${name}`, base, INSTALL_HINT);
  if (failed) return failed;
  const d = body(r);
  // The API omits zero counts: no availableReplicas means none.
  const available = Number(d.status?.availableReplicas ?? 0);
  const wanted = Number(d.spec?.replicas ?? 1);
  const detail = `${available} of ${wanted} replica${wanted === 1 ? '' : 's'} available`;
  if (available < 1) return { ...base, status: 'fail', detail, hint: logsHint };
  if (available < 2) return { ...base, status: 'warn', detail: `${detail}: no redundancy`, hint: 'run at least 2 replicas so that a node drain or a crash does not stop it' };
  return { ...base, status: 'ok', detail };
}

/** Every webhook of the MutatingWebhookConfiguration has a caBundle that verifies what the ztmesh CA issues. */
export function checkWebhookConfig(group: string, name: string, r: KubeResponse, ca: CaMaterial | undefined): CheckResult {
  const base = { id: 'webhook-config', group, title: `MutatingWebhookConfiguration ${name}` };
  const failed = notFoundOr(r, `MutatingWebhookConfiguration ${name}`, base, INSTALL_HINT);
  if (failed) return failed;
  const webhooks = (body(r).webhooks ?? []) as Obj[];
  if (webhooks.length === 0) return { ...base, status: 'fail', detail: 'has no webhooks', hint: INSTALL_HINT };
  if (!ca) return { ...base, status: 'warn', detail: 'cannot check the caBundle: the CA Secret could not be checked', hint: 'fix the CA Secret first' };
  const syncHint = 'the webhook writes the caBundle once it holds its certificate: kubectl -n ztmesh-system logs deploy/ztmesh-webhook (look for ca_bundle_sync_failed)';
  for (const w of webhooks) {
    const pem = decode(w.clientConfig?.caBundle);
    if (!pem) return { ...base, status: 'fail', detail: `webhook ${String(w.name)} has no caBundle: the API server cannot verify the webhook`, hint: syncHint };
    try {
      // The webhook's serving certificate is issued by the ztmesh CA: the caBundle verifies it exactly when it holds
      // the root that ca.pem (and chain.pem) lead to.
      assertBundleHoldsCaRoot(parseBundle(pem, 'caBundle').roots, { cert: ca.cert, intermediates: ca.intermediates }, 'caBundle');
    } catch {
      return { ...base, status: 'fail', detail: `the caBundle of webhook ${String(w.name)} does not verify the webhook's serving certificate (it lacks the ztmesh CA's root)`, hint: syncHint };
    }
  }
  return { ...base, status: 'ok', detail: `the caBundle of all ${webhooks.length} webhooks verifies the webhook's serving certificate (issued by the ztmesh CA)` };
}

/** SubjectAccessReview for the CA's ServiceAccount creating TokenReviews. */
export function checkTokenReviewRbac(group: string, serviceAccount: string, r: KubeResponse): CheckResult {
  const base = { id: 'tokenreview-rbac', group, title: `TokenReview permission of ${serviceAccount}` };
  if (r.status !== 201 && r.status !== 200) {
    return { ...base, status: 'warn', detail: `cannot ask the API server (SubjectAccessReview: ${apiError(r)})`, hint: 'run ztmesh check as a user that may create subjectaccessreviews' };
  }
  const s = body(r).status ?? {};
  if (s.allowed === true) return { ...base, status: 'ok', detail: `may create tokenreviews${s.reason ? ` (${String(s.reason)})` : ''}` };
  return { ...base, status: 'fail', detail: 'may not create tokenreviews: the CA cannot attest any pod (upstream_unavailable in its log)',
    hint: 'apply the ClusterRole and ClusterRoleBinding ztmesh-ca-tokenreview: kubectl apply -k deploy/kubernetes' };
}

/** What the CA's membership watch (k8s/mesh-watch.ts) must be allowed: list and watch each collection. */
export const MESH_WATCH_ACCESS: readonly { verb: 'list' | 'watch'; group: string; resource: string }[] = MESH_WATCHED.flatMap((r) =>
  (['list', 'watch'] as const).map((verb) => ({ verb, group: r.group, resource: r.plural })));

/** `answers[i]` is the SubjectAccessReview answer for MESH_WATCH_ACCESS[i], asked for the CA's ServiceAccount. */
export function checkMeshWatchRbac(group: string, serviceAccount: string, answers: readonly KubeResponse[]): CheckResult {
  const base = { id: 'mesh-watch-rbac', group, title: `membership watch permission of ${serviceAccount}` };
  const bad = answers.findIndex((a) => a.status !== 201 && a.status !== 200);
  if (bad >= 0) return { ...base, status: 'warn', detail: `cannot ask the API server (SubjectAccessReview: ${apiError(answers[bad]!)})`, hint: 'run ztmesh check as a user that may create subjectaccessreviews' };
  const denied = MESH_WATCH_ACCESS.filter((_, i) => body(answers[i]!).status?.allowed !== true).map((a) => `${a.verb} ${qualified(a)}`);
  if (denied.length) {
    return { ...base, status: 'fail', detail: `may not ${denied.join(', ')}: the CA serves no membership (kube_forbidden in its log), so transparent sidecars stay not ready`,
      hint: 'apply the ClusterRole and ClusterRoleBinding ztmesh-ca-mesh-watch: kubectl apply -k deploy/kubernetes' };
  }
  return { ...base, status: 'ok', detail: `may list and watch ${MESH_WATCHED.map((r) => qualified({ group: r.group, resource: r.plural })).join(', ')}` };
}

/** A meshed namespace's Pod Security level against the transparent-mode init container. */
export function checkPodSecurity(group: string, ns: Obj, mode: 'transparent' | 'explicit'): CheckResult {
  const name = String(ns.metadata?.name);
  const level = ns.metadata?.labels?.['pod-security.kubernetes.io/enforce'] as string | undefined;
  const base = { id: `pod-security:${name}`, group, title: `Pod Security of namespace ${name}` };
  if (mode === 'explicit') return { ...base, status: 'ok', detail: `${level ?? 'no'} enforce level; explicit mode needs no NET_ADMIN` };
  if (level !== undefined && REFUSE_NET_ADMIN.has(level)) {
    return { ...base, status: 'fail', detail: `enforces "${level}", which refuses the NET_ADMIN and NET_RAW of the ztmesh-init container: its pods will not be created`,
      hint: `kubectl label namespace ${name} pod-security.kubernetes.io/enforce=privileged --overwrite, or run the webhook with --mode=explicit` };
  }
  return { ...base, status: 'ok', detail: level ? `enforces "${level}", which allows the ztmesh-init container` : 'no enforce label: the cluster default applies (privileged unless configured otherwise)' };
}

/** Where to look when a control-plane Deployment has no available replica. */
export function checkCaReplicasHint(ns: string, deployment: string): string {
  return `kubectl -n ${ns} describe deployment ${deployment} and kubectl -n ${ns} logs deployment/${deployment}`;
}

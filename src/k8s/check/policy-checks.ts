// `ztmesh check`'s AuthorizationPolicy checks: the CRD is installed (the API serves the collection), the CA may list
// and watch it (and write Events on invalid objects), and which objects the CA refuses, each named with its field.
// Pure: API answers in, results out.
import { POLICY_GROUP, POLICY_PLURAL } from '../../policy/model.js';
import { parsePolicyObjects, problemLine } from '../../policy/parse.js';
import type { KubeResponse } from '../kube-client.js';
import { KUBERNETES_SOURCE } from '../policy-watch.js';
import type { CheckResult } from './check-result.js';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** The collection's list path (every namespace), a page at a time. */
export const POLICY_LIST_PATH = `/apis/${POLICY_GROUP}/v1alpha1/${POLICY_PLURAL}`;
/** Invalid objects named in one check's detail; the rest are counted. */
export const MAX_INVALID_NAMED = 10;

const CRD_HINT = 'install the CRD: kubectl apply -k deploy/kubernetes/crds (docs/kubernetes.md step 3)';

/** The CRD: a list of the collection answers (404: not installed). */
export function checkPolicyCrd(group: string, r: KubeResponse): CheckResult {
  const base = { id: 'policy-crd', group, title: `CustomResourceDefinition ${POLICY_PLURAL}.${POLICY_GROUP}` };
  if (r.status === 404) return { ...base, status: 'fail', detail: 'not installed: the API does not serve AuthorizationPolicies, so the CA serves no policy and sidecars stay not ready', hint: CRD_HINT };
  if (r.status === 403) return { ...base, status: 'warn', detail: `cannot list AuthorizationPolicies (HTTP 403) to tell`, hint: 'run ztmesh check as a user that may list them (kubectl auth can-i list authorizationpolicies.ztmesh.io -A)' };
  if (r.status !== 200) return { ...base, status: 'warn', detail: `cannot tell: listing AuthorizationPolicies answered HTTP ${r.status}`, hint: 'is the API server healthy? kubectl get --raw /readyz' };
  return { ...base, status: 'ok', detail: 'installed' };
}

/** The objects of the collection as the CA reads them: every invalid one is named with its field. */
export function checkPolicyObjects(group: string, items: readonly Obj[]): CheckResult {
  const base = { id: 'policy-objects', group, title: 'AuthorizationPolicies' };
  const parsed = parsePolicyObjects(items, KUBERNETES_SOURCE);
  const bad = new Set(parsed.problems.map((p) => p.object));
  if (bad.size === 0) return { ...base, status: 'ok', detail: `${parsed.policies.length} valid, none refused` };
  const named = parsed.problems.slice(0, MAX_INVALID_NAMED).map(problemLine);
  const more = parsed.problems.length > named.length ? `; and ${parsed.problems.length - named.length} more` : '';
  return {
    ...base, status: 'fail', detail: `${bad.size} invalid (the CA refuses them, keeping any last valid version): ${named.join('; ')}${more}`,
    hint: 'fix each field named; kubectl describe authorizationpolicy -n <ns> <name> shows the CA\'s Event, ztmesh policy validate -f <file> checks a file before applying it',
  };
}

/** What the CA's policy watch (k8s/policy-watch.ts) must be allowed. */
export const POLICY_WATCH_ACCESS: readonly { verb: string; group: string; resource: string }[] = [
  { verb: 'list', group: POLICY_GROUP, resource: POLICY_PLURAL },
  { verb: 'watch', group: POLICY_GROUP, resource: POLICY_PLURAL },
  { verb: 'create', group: '', resource: 'events' },
];

/** `answers[i]` is the SubjectAccessReview answer for POLICY_WATCH_ACCESS[i], asked for the CA's ServiceAccount. */
export function checkPolicyWatchRbac(group: string, serviceAccount: string, answers: readonly KubeResponse[], enabled: boolean): CheckResult {
  const base = { id: 'policy-watch-rbac', group, title: `AuthorizationPolicy watch permission of ${serviceAccount}` };
  if (!enabled) return { ...base, status: 'warn', detail: 'the CA runs without --k8s-policy-watch: it serves no AuthorizationPolicy from the cluster', hint: 'add --k8s-policy-watch to the CA Deployment\'s args (deploy/kubernetes sets it)' };
  const bad = answers.findIndex((a) => a.status !== 201 && a.status !== 200);
  if (bad >= 0) return { ...base, status: 'warn', detail: `cannot ask the API server (SubjectAccessReview: HTTP ${answers[bad]!.status})`, hint: 'run ztmesh check as a user that may create subjectaccessreviews' };
  const denied = POLICY_WATCH_ACCESS.filter((_, i) => (answers[i]!.body as Obj | undefined)?.status?.allowed !== true).map((a) => `${a.verb} ${a.group ? `${a.resource}.${a.group}` : a.resource}`);
  if (denied.length) {
    return { ...base, status: 'fail', detail: `may not ${denied.join(', ')}: the CA serves no policy (kube_forbidden in its log), or cannot mark invalid objects`,
      hint: 'apply the ClusterRole and ClusterRoleBinding ztmesh-ca-policy-watch: kubectl apply -k deploy/kubernetes' };
  }
  return { ...base, status: 'ok', detail: `may list and watch ${POLICY_PLURAL}.${POLICY_GROUP} and create events` };
}

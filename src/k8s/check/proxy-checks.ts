// `ztmesh check --proxy`: the meshed pods (label ztmesh.io/meshed=true) whose sidecar
// runs another image than the control plane injects now, or that are not ready. Pure: pods in, results out.
import { ANNOTATION, MESHED_LABEL } from '../annotations.js';
import { SIDECAR_NAME } from '../pod-shape.js';
import type { CheckResult } from './check-result.js';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** The list request for the meshed pods of every namespace. */
export const MESHED_PODS_PATH = `/api/v1/pods?labelSelector=${encodeURIComponent(`${MESHED_LABEL}=true`)}`;

/** What check --proxy reads from one pod. */
export interface ProxyPod {
  name: string;
  image?: string;
  version?: string;
  ready: boolean;
  /** Why it is not ready, when it is not. */
  why?: string;
}

/** The sidecar's image, the injector's version stamp and readiness of a Pod object. */
export function proxyPod(pod: Obj): ProxyPod {
  const name = `${String(pod.metadata?.namespace)}/${String(pod.metadata?.name)}`;
  const containers = [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])] as Obj[];
  const image = containers.find((c) => c.name === SIDECAR_NAME)?.image as string | undefined;
  const version = pod.metadata?.annotations?.[ANNOTATION.version] as string | undefined;
  const statuses = [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])] as Obj[];
  const sidecar = statuses.find((s) => s.name === SIDECAR_NAME);
  const podReady = ((pod.status?.conditions ?? []) as Obj[]).find((c) => c.type === 'Ready')?.status === 'True';
  const base = { name, ...(image ? { image } : {}), ...(version ? { version } : {}) };
  if (pod.status?.phase === 'Succeeded') return { ...base, ready: true };
  if (!sidecar?.ready) {
    const waiting = sidecar?.state?.waiting?.reason as string | undefined;
    return { ...base, ready: false, why: `sidecar not ready${waiting ? ` (${waiting})` : sidecar ? '' : ' (no status yet)'}` };
  }
  return podReady ? { ...base, ready: true } : { ...base, ready: false, why: 'pod not ready (its sidecar is)' };
}

/**
 * One result per problem pod (a sidecar image other than `controlPlaneImage`: warn; not ready: fail), and one
 * summary. `controlPlaneImage` undefined: the webhook could not be read, and versions are not compared.
 */
export function checkProxies(group: string, pods: readonly Obj[], controlPlaneImage: string | undefined): CheckResult[] {
  const proxies = pods.map(proxyPod);
  const results: CheckResult[] = [];
  for (const p of proxies) {
    if (controlPlaneImage !== undefined && p.image !== controlPlaneImage) {
      results.push({
        id: `proxy-version:${p.name}`, group, status: 'warn', title: `pod ${p.name}`,
        detail: `its sidecar runs ${p.image ?? 'no ztmesh-sidecar container'}${p.version ? ` (injected by ztmesh ${p.version})` : ''}; the control plane injects ${controlPlaneImage}`,
        hint: `restart its workload to re-inject it: kubectl -n ${p.name.split('/')[0]} rollout restart deployment/<name> (docs/operations.md "Upgrade")`,
      });
    }
    if (!p.ready) {
      results.push({
        id: `proxy-ready:${p.name}`, group, status: 'fail', title: `pod ${p.name}`, detail: p.why ?? 'not ready',
        hint: `kubectl -n ${p.name.split('/')[0]} logs ${p.name.split('/')[1]} -c ${SIDECAR_NAME}; then ztmesh status through a port-forward to 15000`,
      });
    }
  }
  const outdated = controlPlaneImage === undefined ? 0 : proxies.filter((p) => p.image !== controlPlaneImage).length;
  const unready = proxies.filter((p) => !p.ready).length;
  const status = unready ? 'fail' : outdated ? 'warn' : 'ok';
  results.unshift({
    id: 'proxies', group, status, title: 'meshed pods',
    detail: `${proxies.length} meshed pod${proxies.length === 1 ? '' : 's'}: ${proxies.length - outdated} on ${controlPlaneImage ?? '(control plane image unknown)'}, ${outdated} other, ${unready} not ready`,
    ...(status !== 'ok' ? { hint: 'see the pods below' } : {}),
  });
  return results;
}

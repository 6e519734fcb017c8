// What Prometheus's Kubernetes discovery (role: pod) makes of Pod objects, for Debian's Prometheus, which is built
// without it: one target per declared container port with its __meta_kubernetes_pod_* labels, written for a
// file_sd job that keeps the stock `kubernetes-pods` relabelling (test/fixtures/prometheus/kubernetes-pods.yaml).
import { readFileSync } from 'node:fs';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** The stock job; `files: [TARGETS_FILE]` is where a test puts its targets file. */
export const KUBERNETES_PODS_JOB = readFileSync(new URL('../fixtures/prometheus/kubernetes-pods.yaml', import.meta.url), 'utf8');

const sanitize = (name: string) => name.replace(/[^a-zA-Z0-9_]/g, '_');

/** Prometheus's Kubernetes discovery, role pod: one target per declared container port, with its meta labels. */
export function podTargets(pod: Obj): { targets: string[]; labels: Record<string, string> }[] {
  const base: Record<string, string> = {
    __meta_kubernetes_namespace: pod.metadata.namespace, __meta_kubernetes_pod_name: pod.metadata.name, __meta_kubernetes_pod_ip: pod.status.podIP,
    __meta_kubernetes_pod_phase: pod.status.phase,
    ...Object.fromEntries(Object.entries(pod.metadata.labels ?? {}).map(([k, v]) => [`__meta_kubernetes_pod_label_${sanitize(k)}`, String(v)])),
    ...Object.fromEntries(Object.entries(pod.metadata.annotations ?? {}).map(([k, v]) => [`__meta_kubernetes_pod_annotation_${sanitize(k)}`, String(v)])),
  };
  const containers = [...(pod.spec.initContainers ?? []).map((c: Obj) => [c, 'true']), ...pod.spec.containers.map((c: Obj) => [c, 'false'])] as [Obj, string][];
  return containers.flatMap(([c, init]) => (c.ports ?? []).map((p: Obj) => ({
    targets: [`${pod.status.podIP}:${p.containerPort}`],
    labels: { ...base, __meta_kubernetes_pod_container_name: c.name, __meta_kubernetes_pod_container_init: init, __meta_kubernetes_pod_container_port_number: String(p.containerPort), __meta_kubernetes_pod_container_port_name: p.name ?? '' },
  })));
}

/** The stock job reading its targets from `targetsFile`, with extra `global:` settings (e.g. a short scrape interval). */
export function kubernetesPodsConfig(targetsFile: string, global = ''): string {
  return `${global ? `global:\n${global}\n` : ''}${KUBERNETES_PODS_JOB.replace('files: [TARGETS_FILE]', `files: [${JSON.stringify(targetsFile)}]`)}`;
}

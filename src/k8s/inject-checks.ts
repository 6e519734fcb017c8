// What injection refuses or warns about before it changes a pod, so that nothing it lets through fails later in the
// kubelet, the init container or the sidecar: app ports and probes on the sidecar's own ports, requests above limits,
// hostPorts that will meet mTLS, and a legacy sidecar in a Job that will never complete. Pure.
import { ConfigError } from '../common/errors.js';
import { SIDECAR_OWN_PORTS } from '../common/mesh.js';
import { invalidAnnotation } from './annotations.js';
import { PROBE_FIELDS, resolvePort } from './probe-rewrite.js';
import type { ContainerLike, PodSpecLike } from './pod-shape.js';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The ports the sidecar listens on in a pod: its own, plus (explicit mode) one inbound listener per app port. */
export function sidecarPorts(extra: readonly number[] = []): Set<number> {
  return new Set([...SIDECAR_OWN_PORTS, ...extra]);
}

/**
 * Refuses (ConfigError `port_conflict`, naming the field) a container port or a probe of the pod that targets one of
 * the sidecar's ports: the sidecar would bind it first (the app crash-loops) or answer the kubelet in its place.
 * `at` prefixes field names (e.g. "spec.template").
 */
export function refuseSidecarPorts(spec: PodSpecLike, taken: ReadonlySet<number>, at: string): void {
  const field = (f: string) => (at ? `${at}.spec.${f}` : `spec.${f}`);
  const lists = [['containers', spec.containers ?? []], ['initContainers', spec.initContainers ?? []]] as const;
  for (const [list, containers] of lists) {
    containers.forEach((c, i) => {
      (c.ports ?? []).forEach((p, j) => {
        if ((p.protocol ?? 'TCP') === 'TCP' && typeof p.containerPort === 'number' && taken.has(p.containerPort)) {
          throw new ConfigError('port_conflict', `${field(`${list}[${i}].ports[${j}].containerPort`)}: ${p.containerPort} is a port of the ztmesh sidecar (${[...taken].sort((a, b) => a - b).join(', ')}); move the app to another port`);
        }
      });
      for (const probeField of Object.keys(PROBE_FIELDS)) {
        const probe = c[probeField];
        if (!isObj(probe)) continue;
        for (const handler of ['httpGet', 'tcpSocket', 'grpc'] as const) {
          const h = probe[handler];
          if (!isObj(h) || (h.host !== undefined && h.host !== null && h.host !== '')) continue;
          const port = resolvePort(h.port, c as ContainerLike);
          if (port !== undefined && taken.has(port)) {
            throw new ConfigError('port_conflict', `${field(`${list}[${i}].${probeField}.${handler}.port`)}: ${String(h.port)} is a port of the ztmesh sidecar, not of the app; point the probe at the app's port`);
          }
        }
      }
    });
  }
}

/** Refuses an annotation that names one of the sidecar's ports as an app port. */
export function refuseSidecarPortAnnotation(name: string, ports: readonly number[] | undefined, taken: ReadonlySet<number>): void {
  const bad = ports?.find((p) => taken.has(p));
  if (bad !== undefined) invalidAnnotation(name, ports!.join(','), `names ${bad}, a port of the ztmesh sidecar`);
}

/** Refuses a request above its limit (the API server would refuse the pod), naming both annotations. */
export function refuseRequestAboveLimit(request: { text: string; value: number; from: string }, limit: { text: string; value: number; from: string } | undefined): void {
  if (limit && request.value > limit.value) {
    throw new ConfigError('invalid_annotation', `annotation ${request.from}: "${request.text}" is above the limit "${limit.text}" (${limit.from}); raise the limit too`);
  }
}

/**
 * A hostPort reaches the pod like any inbound connection: when its port is intercepted, it meets the sidecar, not the
 * app. No warning for a port that is not intercepted (excluded, or outside ztmesh.io/inbound-ports).
 */
export function hostPortWarnings(spec: PodSpecLike, intercepted: (port: number) => boolean, mode: 'transparent' | 'explicit'): string[] {
  const why = mode === 'transparent'
    ? 'connections through the node\'s port are intercepted and must speak ztmesh mTLS (list the port in ztmesh.io/exclude-inbound-ports to leave it plain)'
    : 'in explicit mode the app listens on loopback, which the node\'s port does not reach';
  return [...(spec.containers ?? []), ...(spec.initContainers ?? [])].flatMap((c) => (c.ports ?? [])
    .filter((p) => typeof p.hostPort === 'number' && p.hostPort > 0 && typeof p.containerPort === 'number' && intercepted(p.containerPort))
    .map((p) => `container ${String(c.name)} uses hostPort ${String(p.hostPort)}: ${why}`));
}

/** Whether the pod runs to completion: a Job's or CronJob's template, or a pod a Job owns. */
export function runsToCompletion(kind: string | undefined, metadata: Obj | undefined): boolean {
  if (kind === 'Job' || kind === 'CronJob') return true;
  const owners = metadata?.ownerReferences;
  return Array.isArray(owners) && owners.some((o) => isObj(o) && o.kind === 'Job');
}

export const LEGACY_JOB_WARNING = 'a legacy sidecar (--legacy-sidecar) is a regular container that never exits, so this Job\'s pods never complete; '
  + 'use native sidecars (Kubernetes 1.29+), or exclude the Job from injection (ztmesh.io/inject: "false")';

/** The containers' declared TCP ports, in order, without repeats. */
export function declaredTcpPorts(containers: readonly ContainerLike[]): number[] {
  const ports = containers.flatMap((c) => (c.ports ?? []).filter((p) => (p.protocol ?? 'TCP') === 'TCP').map((p) => p.containerPort));
  return [...new Set(ports.filter((p): p is number => typeof p === 'number'))];
}

// The shape of the pods injection reads and writes (a Pod or a pod template: metadata + spec), and the check that a
// manifest holds one, so that a malformed workload gets a message naming the field instead of a JavaScript error.
import { ConfigError } from '../common/errors.js';

/** The names of what injection adds to a pod (inject.ts adds them, uninject.ts removes exactly these). */
export const SIDECAR_NAME = 'ztmesh-sidecar';
export const INIT_NAME = 'ztmesh-init';
export const TOKEN_VOLUME = 'ztmesh-token';
export const BUNDLE_VOLUME = 'ztmesh-trust-bundle';
/** The pod-private emptyDir holding the SPIFFE Workload API socket (docs/workload-api.md "Kubernetes"). */
export const WORKLOAD_API_VOLUME = 'ztmesh-workload-api';

/** The subset of a Pod (or pod template) the injector reads and writes; everything else is carried over. */
export interface PodLike {
  metadata?: { annotations?: Record<string, string>; labels?: Record<string, string>; [k: string]: unknown };
  spec?: PodSpecLike;
  [k: string]: unknown;
}
export interface PodSpecLike {
  containers?: ContainerLike[];
  initContainers?: ContainerLike[];
  volumes?: Record<string, unknown>[];
  hostNetwork?: boolean;
  [k: string]: unknown;
}
export interface ContainerLike {
  name?: string;
  ports?: { containerPort?: number; protocol?: string; [k: string]: unknown }[];
  env?: { name: string; value?: string; [k: string]: unknown }[];
  [k: string]: unknown;
}

const isMapping = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function shown(v: unknown): string {
  if (Array.isArray(v)) return 'a list';
  if (v === null) return 'null';
  if (typeof v === 'object') return 'a mapping';
  return `${typeof v} ${JSON.stringify(v).slice(0, 40)}`;
}

/**
 * Checks the parts of a pod the injector reads and writes, so that a malformed manifest gets a message naming the
 * field instead of a JavaScript error. Everything else is carried over untouched.
 */
export function checkPodShape(pod: unknown, at: string): void {
  const field = (f: string) => (at ? `${at}.${f}` : f);
  const bad = (f: string, want: string, got: unknown): never => {
    throw new ConfigError('invalid_workload', `${f}: must be ${want}, got ${shown(got)}`);
  };
  if (!isMapping(pod)) bad(at || '(object)', 'a mapping (a pod)', pod);
  const p = pod as Record<string, unknown>;
  if (p.metadata !== undefined) {
    if (!isMapping(p.metadata)) bad(field('metadata'), 'a mapping', p.metadata);
    for (const k of ['annotations', 'labels'] as const) {
      const m = (p.metadata as Record<string, unknown>)[k];
      if (m === undefined || m === null) continue;
      if (!isMapping(m)) bad(field(`metadata.${k}`), 'a mapping of strings', m);
      for (const [name, v] of Object.entries(m as Record<string, unknown>)) if (typeof v !== 'string') bad(field(`metadata.${k}["${name}"]`), 'a string', v);
    }
  }
  if (p.spec === undefined || p.spec === null) return;
  if (!isMapping(p.spec)) bad(field('spec'), 'a mapping (a pod spec)', p.spec);
  const spec = p.spec as Record<string, unknown>;
  for (const list of ['containers', 'initContainers'] as const) {
    const cs = spec[list];
    if (cs === undefined || cs === null) continue;
    if (!Array.isArray(cs)) bad(field(`spec.${list}`), 'a list of containers', cs);
    (cs as unknown[]).forEach((c, i) => {
      if (!isMapping(c)) bad(field(`spec.${list}[${i}]`), 'a container (a mapping)', c);
      const ports = (c as Record<string, unknown>).ports;
      if (ports === undefined || ports === null) return;
      if (!Array.isArray(ports)) bad(field(`spec.${list}[${i}].ports`), 'a list of ports', ports);
      (ports as unknown[]).forEach((port, j) => { if (!isMapping(port)) bad(field(`spec.${list}[${i}].ports[${j}]`), 'a port (a mapping)', port); });
    });
  }
  const volumes = spec.volumes;
  if (volumes !== undefined && volumes !== null) {
    if (!Array.isArray(volumes)) bad(field('spec.volumes'), 'a list of volumes', volumes);
    (volumes as unknown[]).forEach((v, i) => { if (!isMapping(v)) bad(field(`spec.volumes[${i}]`), 'a volume (a mapping)', v); });
  }
}


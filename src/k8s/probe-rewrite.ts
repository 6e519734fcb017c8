// Kubelet probe rewriting: app probes that target an intercepted port go to the sidecar's health port instead,
// which runs the original probe against the app on loopback (docs/kubernetes.md "Health probes"). Pure, no I/O.
import { ConfigError } from '../common/errors.js';
import type { ContainerLike } from './pod-shape.js';

/** Paths the sidecar answers for app probes: /app-health/<container>/<livez|readyz|startupz>. */
export const APP_HEALTH_PREFIX = '/app-health/';

/** Each probe field of a container and the last segment of its sidecar path. */
export const PROBE_FIELDS = { livenessProbe: 'livez', readinessProbe: 'readyz', startupProbe: 'startupz' } as const;
type ProbeField = keyof typeof PROBE_FIELDS;

/** The fields of a probe that say when and how often it runs: kept as they are on the rewritten probe. */
export const TIMING_FIELDS = ['initialDelaySeconds', 'timeoutSeconds', 'periodSeconds', 'successThreshold', 'failureThreshold', 'terminationGracePeriodSeconds'] as const;

/** The kubelet's default probe timeout, which the sidecar applies when the probe names none. */
export const DEFAULT_PROBE_TIMEOUT_SECONDS = 1;

/**
 * One original probe as the sidecar receives it in `appProbes` (ZTMESH_APP_PROBES), with its port resolved to a
 * number. The sidecar validates this shape with its own schema (src/sidecar/app-probes/app-probe-schema.ts).
 */
export type AppProbe =
  | { httpGet: { path: string; port: number; scheme: 'HTTP' | 'HTTPS'; httpHeaders?: { name: string; value: string }[] }; timeoutSeconds: number }
  | { tcpSocket: { port: number }; timeoutSeconds: number }
  | { grpc: { port: number; service?: string }; timeoutSeconds: number };

export interface ProbeRewriteOptions {
  /** Whether kubelet traffic to this container port is intercepted (and so meets mTLS instead of the app). */
  intercepted(port: number): boolean;
  /** The sidecar's health port, where rewritten probes go. */
  healthPort: number;
}

export interface ProbeRewrite {
  /** The containers with their rewritten probes; the same objects where nothing changed. */
  containers: ContainerLike[];
  /** Path → original probe, for the sidecar. Empty when nothing was rewritten. */
  appProbes: Record<string, AppProbe>;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The sidecar path for one probe of one container. */
export function appHealthPath(container: string, field: ProbeField): string {
  return `${APP_HEALTH_PREFIX}${container}/${PROBE_FIELDS[field]}`;
}

/**
 * A probe's port as the kubelet resolves it: a number as it is; a string names one of the container's ports
 * (the kubelet does not read digits in a string as a number). Undefined when it resolves to nothing.
 */
export function resolvePort(port: unknown, container: ContainerLike): number | undefined {
  if (typeof port === 'number') return Number.isInteger(port) && port >= 1 && port <= 65535 ? port : undefined;
  if (typeof port !== 'string') return undefined;
  const named = (container.ports ?? []).find((p) => p.name === port);
  return typeof named?.containerPort === 'number' ? named.containerPort : undefined;
}

function invalidProbe(at: string, why: string): never {
  throw new ConfigError('invalid_workload', `${at}: ${why}`);
}

/** The original probe in the form the sidecar runs it, or undefined when it stays as it is. */
function originalProbe(probe: Obj, container: ContainerLike, opts: ProbeRewriteOptions, at: string): AppProbe | undefined {
  const timeoutSeconds = typeof probe.timeoutSeconds === 'number' && probe.timeoutSeconds > 0 ? probe.timeoutSeconds : DEFAULT_PROBE_TIMEOUT_SECONDS;
  // A probe of another host does not reach this pod's interception.
  const targetsPod = (h: Obj) => h.host === undefined || h.host === null || h.host === '';
  const interceptedPort = (h: Obj) => {
    const port = resolvePort(h.port, container);
    // The health port itself is the sidecar's: a probe already pointing there stays, so rewriting is idempotent.
    return port !== undefined && port !== opts.healthPort && opts.intercepted(port) ? port : undefined;
  };
  if (probe.httpGet !== undefined) {
    const h = probe.httpGet;
    if (!isObj(h)) return invalidProbe(`${at}.httpGet`, 'must be a mapping');
    const port = targetsPod(h) ? interceptedPort(h) : undefined;
    if (port === undefined) return undefined;
    const scheme = String(h.scheme ?? 'HTTP').toUpperCase();
    if (scheme !== 'HTTP' && scheme !== 'HTTPS') return invalidProbe(`${at}.httpGet.scheme`, `must be HTTP or HTTPS, got ${JSON.stringify(h.scheme)}`);
    const headers = h.httpHeaders ?? [];
    if (!Array.isArray(headers) || !headers.every((x) => isObj(x) && typeof x.name === 'string' && typeof (x.value ?? '') === 'string')) {
      return invalidProbe(`${at}.httpGet.httpHeaders`, 'must be a list of {name, value}');
    }
    const path = typeof h.path === 'string' && h.path !== '' ? h.path : '/';
    return {
      httpGet: {
        path, port, scheme,
        ...(headers.length ? { httpHeaders: (headers as Obj[]).map((x) => ({ name: String(x.name), value: String(x.value ?? '') })) } : {}),
      },
      timeoutSeconds,
    };
  }
  if (probe.tcpSocket !== undefined) {
    const t = probe.tcpSocket;
    if (!isObj(t)) return invalidProbe(`${at}.tcpSocket`, 'must be a mapping');
    const port = targetsPod(t) ? interceptedPort(t) : undefined;
    return port === undefined ? undefined : { tcpSocket: { port }, timeoutSeconds };
  }
  if (probe.grpc !== undefined) {
    const g = probe.grpc;
    if (!isObj(g)) return invalidProbe(`${at}.grpc`, 'must be a mapping');
    const port = interceptedPort(g);
    if (port === undefined) return undefined;
    const service = typeof g.service === 'string' && g.service !== '' ? g.service : undefined;
    return { grpc: { port, ...(service !== undefined ? { service } : {}) }, timeoutSeconds };
  }
  return undefined; // exec, or no handler: nothing crosses the network
}

/** The rewritten probe: httpGet on the sidecar's health port, timing fields as they were. */
function redirected(probe: Obj, path: string, healthPort: number): Obj {
  const out: Obj = { httpGet: { path, port: healthPort } };
  for (const f of TIMING_FIELDS) if (probe[f] !== undefined) out[f] = probe[f];
  return out;
}

/**
 * Rewrites the httpGet, tcpSocket and grpc probes of `containers` that target an intercepted port, and returns the
 * originals keyed by their new path. exec probes, probes of other hosts, probes of ports that are not intercepted
 * and ports that resolve to nothing stay as they are. Never mutates its input. `at` names the containers' field
 * in errors (e.g. "spec.containers").
 */
export function rewriteProbes(containers: readonly ContainerLike[], opts: ProbeRewriteOptions, at = 'spec.containers'): ProbeRewrite {
  const appProbes: Record<string, AppProbe> = {};
  const out = containers.map((container, i) => {
    let changed: ContainerLike | undefined;
    for (const field of Object.keys(PROBE_FIELDS) as ProbeField[]) {
      const probe = container[field];
      if (probe === undefined || probe === null) continue;
      const where = `${at}[${i}].${field}`;
      if (!isObj(probe)) invalidProbe(where, 'must be a mapping');
      if (typeof container.name !== 'string' || container.name === '') continue;
      const original = originalProbe(probe, container, opts, where);
      if (!original) continue;
      const path = appHealthPath(container.name, field);
      appProbes[path] = original;
      changed ??= { ...container };
      changed[field] = redirected(probe, path, opts.healthPort);
    }
    return changed ?? container;
  });
  return { containers: out, appProbes };
}

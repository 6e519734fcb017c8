// Sidecar injection as one pure function over a pod (metadata + spec): no I/O, no clock.
// `ztmesh inject` (manifests) and `ztmesh webhook` (AdmissionReview) both call injectPod, so they cannot drift.
import { ConfigError } from '../common/errors.js';
import { parseDuration } from '../common/duration.js';
import {
  BUNDLE_DIR, BUNDLE_PATH, CA_SERVICE_ADDRESS, DEFAULT_TRUST_DOMAIN, PORTS, PROXY_UID, SIDECAR_OWN_PORTS, TOKEN_AUDIENCE, TOKEN_DIR, TOKEN_PATH,
  SIDECAR_NODE_FLAGS, SPIFFE_ENDPOINT_SOCKET, TRUST_BUNDLE_CONFIGMAP, TRUST_BUNDLE_KEY, WORKLOAD_API_DIR, WORKLOAD_API_SOCKET,
} from '../common/mesh.js';
import { parseSpiffePattern, validateTrustDomain } from '../pki/spiffe-id.js';
import { rewriteProbes, type AppProbe } from './probe-rewrite.js';

/** Pod annotations the injector reads (the user's interface, as Istio's sidecar.istio.io/*). */
export const ANNOTATION = {
  inject: 'ztmesh.io/inject',
  inboundPorts: 'ztmesh.io/inbound-ports',
  excludeInboundPorts: 'ztmesh.io/exclude-inbound-ports',
  excludeOutboundCidrs: 'ztmesh.io/exclude-outbound-cidrs',
  allow: 'ztmesh.io/allow',
  ttl: 'ztmesh.io/ttl',
  /** "false" leaves app probes as they are (docs/kubernetes.md "Health probes"). */
  rewriteProbes: 'ztmesh.io/rewrite-probes',
  /** "false" leaves out the SPIFFE Workload API socket (docs/workload-api.md). */
  workloadApi: 'ztmesh.io/workload-api',
  /** Written by the injector: marks an injected pod, so a second pass changes nothing. */
  status: 'ztmesh.io/status',
} as const;

export const SIDECAR_NAME = 'ztmesh-sidecar';
export const INIT_NAME = 'ztmesh-init';
export const TOKEN_VOLUME = 'ztmesh-token';
export const BUNDLE_VOLUME = 'ztmesh-trust-bundle';
/** The pod-private emptyDir holding the Workload API socket. */
export const WORKLOAD_API_VOLUME = 'ztmesh-workload-api';
/** Projected token lifetime; the kubelet refreshes it at 80%, the sidecar re-reads the file on every use. */
export const TOKEN_EXPIRATION_SECONDS = 3600;
export const DEFAULT_IMAGE = 'ghcr.io/ztmesh/ztmesh:0.1.0';
/** The sidecar's ports in an injected pod (common/mesh.ts). */
const HEALTH_PORT = PORTS.sidecarHealth;
const INBOUND_PORT = PORTS.inbound;
/** Version written into the status annotation; bump when the injected shape changes. */
export const INJECTOR_VERSION = '1';

export type InjectMode = 'transparent' | 'explicit';

export interface InjectOptions {
  image: string;
  caAddress: string;
  trustDomain: string;
  mode: InjectMode;
  /** A regular container instead of a native sidecar, for clusters older than 1.29. */
  legacySidecar: boolean;
}

export const DEFAULT_INJECT_OPTIONS: Readonly<InjectOptions> = Object.freeze({
  image: DEFAULT_IMAGE,
  caAddress: CA_SERVICE_ADDRESS,
  trustDomain: DEFAULT_TRUST_DOMAIN,
  mode: 'transparent',
  legacySidecar: false,
});

/** The subset of a Pod (or pod template) the injector reads and writes; everything else is carried over. */
export interface PodLike {
  metadata?: { annotations?: Record<string, string>; [k: string]: unknown };
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
  [k: string]: unknown;
}

export type InjectResult =
  /** `warnings`: one line each about something the injected pod will do that its author may not expect. */
  | { outcome: 'injected'; pod: PodLike; warnings: string[] }
  | { outcome: 'skipped'; pod: PodLike; reason: 'opted_out' | 'host_network' | 'already_injected' | 'no_containers' };

/**
 * Returns a new pod with the sidecar, volumes and (transparent mode) the iptables init container added,
 * or the input unchanged with the reason it was skipped. Never mutates its input.
 * Throws ConfigError `invalid_annotation` naming the annotation when one is malformed, and `invalid_workload`
 * naming the field (below `at`, e.g. "spec.template") when the pod is not shaped as Kubernetes defines it.
 */
export function injectPod(input: PodLike, options: InjectOptions, at = ''): InjectResult {
  checkPodShape(input, at);
  const annotations = input.metadata?.annotations ?? {};
  const labels = (input.metadata?.labels ?? {}) as Record<string, unknown>;
  if (annotations[ANNOTATION.inject] === 'false' || labels[ANNOTATION.inject] === 'false') return { outcome: 'skipped', pod: input, reason: 'opted_out' };
  if (annotations[ANNOTATION.status] !== undefined || hasContainer(input.spec, SIDECAR_NAME)) {
    return { outcome: 'skipped', pod: input, reason: 'already_injected' };
  }
  if (input.spec?.hostNetwork === true) return { outcome: 'skipped', pod: input, reason: 'host_network' };
  if (!input.spec?.containers?.length) return { outcome: 'skipped', pod: input, reason: 'no_containers' };
  validateTrustDomain(options.trustDomain);

  const settings = readAnnotations(annotations, input.spec.containers);
  const pod = structuredClone(input) as PodLike & { spec: PodSpecLike };
  const spec = pod.spec;
  const appProbes = settings.rewriteProbes ? redirectAppProbes(spec, options, settings, at) : {};
  const sidecar = sidecarContainer(options, settings, appProbes);

  const inits: ContainerLike[] = [];
  if (options.mode === 'transparent') inits.push(iptablesContainer(options, settings));
  if (!options.legacySidecar) {
    const { name, image, imagePullPolicy, ...rest } = sidecar;
    inits.push({ name, image, imagePullPolicy, restartPolicy: 'Always', ...rest });
  }
  spec.initContainers = [...inits, ...(spec.initContainers ?? [])];
  if (spec.initContainers.length === 0) delete spec.initContainers;
  if (options.legacySidecar) spec.containers = [sidecar, ...spec.containers!];

  if (settings.workloadApi) spec.containers = spec.containers!.map((c) => (c.name === SIDECAR_NAME ? c : withWorkloadApi(c)));
  const ours = [TOKEN_VOLUME, BUNDLE_VOLUME, ...(settings.workloadApi ? [WORKLOAD_API_VOLUME] : [])];
  spec.volumes = [...(spec.volumes ?? []).filter((v) => !ours.includes(v.name as string)), ...volumes(settings)];

  pod.metadata = { ...(pod.metadata ?? {}) };
  pod.metadata.annotations = {
    ...annotations,
    [ANNOTATION.status]: JSON.stringify({
      version: INJECTOR_VERSION,
      mode: options.mode,
      sidecar: options.legacySidecar ? 'legacy' : 'native',
      initContainers: inits.map((c) => c.name),
      volumes: ours,
    }),
  };
  return { outcome: 'injected', pod, warnings: hostPortWarnings(input.spec, options) };
}

/** A hostPort reaches the pod like any inbound connection: it meets the sidecar, not the app. */
function hostPortWarnings(spec: PodSpecLike, options: InjectOptions): string[] {
  const why = options.mode === 'transparent'
    ? 'connections through the node\'s port are intercepted and must speak ztmesh mTLS (list the port in ztmesh.io/exclude-inbound-ports to leave it plain)'
    : 'in explicit mode the app listens on loopback, which the node\'s port does not reach';
  return [...(spec.containers ?? []), ...(spec.initContainers ?? [])].flatMap((c) => (c.ports ?? [])
    .filter((p) => typeof p.hostPort === 'number' && p.hostPort > 0)
    .map((p) => `container ${String(c.name)} uses hostPort ${String(p.hostPort)}: ${why}`));
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
function checkPodShape(pod: unknown, at: string): void {
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

/** Annotation values after validation. */
interface Settings {
  /** undefined = every inbound port ("*"). */
  inboundPorts?: number[];
  excludeInboundPorts: number[];
  excludeOutboundCidrs: string[];
  allow: string[];
  ttl?: string;
  rewriteProbes: boolean;
  workloadApi: boolean;
}

function invalid(name: string, value: string, why: string): never {
  throw new ConfigError('invalid_annotation', `annotation ${name}: "${value}" ${why}`);
}

function list(value: string): string[] {
  return value.split(',').map((s) => s.trim()).filter((s) => s !== '');
}

function ports(name: string, value: string): number[] {
  const out = list(value).map((p) => {
    const n = Number(p);
    if (!/^\d+$/.test(p) || n < 1 || n > 65535) invalid(name, value, `has "${p}", not a port number`);
    return n;
  });
  if (out.length === 0) invalid(name, value, 'is empty (use "*" for every port)');
  return out;
}

function readAnnotations(a: Record<string, string>, containers: ContainerLike[]): Settings {
  const s: Settings = { excludeInboundPorts: [], excludeOutboundCidrs: [], allow: [], rewriteProbes: true, workloadApi: true };
  const inbound = a[ANNOTATION.inboundPorts];
  if (inbound !== undefined) {
    if (inbound.trim() !== '*') s.inboundPorts = ports(ANNOTATION.inboundPorts, inbound);
  } else {
    const fromSpec = containers.flatMap((c) => (c.ports ?? []).filter((p) => (p.protocol ?? 'TCP') === 'TCP').map((p) => p.containerPort));
    const unique = [...new Set(fromSpec.filter((p): p is number => typeof p === 'number'))];
    // No declared port: intercept every inbound port, as Istio does, rather than leave the pod open.
    if (unique.length) s.inboundPorts = unique;
  }
  const exclIn = a[ANNOTATION.excludeInboundPorts];
  if (exclIn !== undefined) s.excludeInboundPorts = ports(ANNOTATION.excludeInboundPorts, exclIn);
  const cidrs = a[ANNOTATION.excludeOutboundCidrs];
  if (cidrs !== undefined) {
    s.excludeOutboundCidrs = list(cidrs);
    for (const c of s.excludeOutboundCidrs) {
      if (!/^[0-9a-fA-F.:]+\/\d{1,3}$/.test(c)) invalid(ANNOTATION.excludeOutboundCidrs, cidrs, `has "${c}", not a CIDR`);
    }
  }
  const allow = a[ANNOTATION.allow];
  if (allow !== undefined) {
    s.allow = list(allow);
    for (const p of s.allow) {
      try {
        parseSpiffePattern(p);
      } catch (e) {
        invalid(ANNOTATION.allow, allow, `has an invalid SPIFFE pattern: ${(e as Error).message}`);
      }
    }
  }
  const ttl = a[ANNOTATION.ttl];
  if (ttl !== undefined) {
    if (parseDuration(ttl) === undefined) invalid(ANNOTATION.ttl, ttl, 'is not a duration (e.g. 30m, 1h)');
    s.ttl = ttl.trim();
  }
  const rewrite = a[ANNOTATION.rewriteProbes];
  if (rewrite !== undefined) {
    if (rewrite !== 'true' && rewrite !== 'false') invalid(ANNOTATION.rewriteProbes, rewrite, 'is neither "true" nor "false"');
    s.rewriteProbes = rewrite === 'true';
  }
  const wl = a[ANNOTATION.workloadApi];
  if (wl !== undefined) {
    if (wl !== 'true' && wl !== 'false') invalid(ANNOTATION.workloadApi, wl, 'is neither "true" nor "false"');
    s.workloadApi = wl === 'true';
  }
  return s;
}

/** Whether the kubelet's connection to an app port meets the sidecar rather than the app. */
function interceptedPort(options: InjectOptions, s: Settings): (port: number) => boolean {
  if (options.mode === 'explicit') {
    // The sidecar fronts these ports and the app listens on loopback only, out of the kubelet's reach.
    return (port) => s.inboundPorts?.includes(port) ?? false;
  }
  return (port) => !SIDECAR_OWN_PORTS.includes(port) && !s.excludeInboundPorts.includes(port) && (s.inboundPorts?.includes(port) ?? true);
}

/**
 * Points the probes of the app containers (and of the pod's own native sidecars) at the sidecar's health port,
 * in place on the cloned spec, and returns the originals for the sidecar.
 */
function redirectAppProbes(spec: PodSpecLike, options: InjectOptions, s: Settings, at: string): Record<string, AppProbe> {
  const opts = { intercepted: interceptedPort(options, s), healthPort: HEALTH_PORT };
  const field = (f: string) => (at ? `${at}.spec.${f}` : `spec.${f}`);
  const apps = rewriteProbes(spec.containers ?? [], opts, field('containers'));
  spec.containers = apps.containers;
  let appProbes = apps.appProbes;
  if (spec.initContainers?.length) {
    const restartable = spec.initContainers.map((c) => (c.restartPolicy === 'Always' ? c : { name: undefined }));
    const inits = rewriteProbes(restartable, opts, field('initContainers'));
    spec.initContainers = spec.initContainers.map((c, i) => (c.restartPolicy === 'Always' ? inits.containers[i]! : c));
    appProbes = { ...appProbes, ...inits.appProbes };
  }
  return appProbes;
}

function hasContainer(spec: PodSpecLike | undefined, name: string): boolean {
  return [...(spec?.containers ?? []), ...(spec?.initContainers ?? [])].some((c) => c.name === name);
}

/**
 * The sidecar's environment: exactly the ZTMESH_* variables `ztmesh sidecar` reads (src/sidecar/config.ts),
 * so the injected pod needs no config file, and the sidecar's Node.js flags (common/mesh.ts) as NODE_OPTIONS.
 */
function sidecarEnv(options: InjectOptions, s: Settings, appProbes: Record<string, AppProbe>): Record<string, unknown>[] {
  const env: Record<string, unknown>[] = [
    { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
    { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
    { name: 'SERVICE_ACCOUNT', valueFrom: { fieldRef: { fieldPath: 'spec.serviceAccountName' } } },
    { name: 'ZTMESH_TRUST_DOMAIN', value: options.trustDomain },
    { name: 'ZTMESH_CA_ADDRESS', value: options.caAddress },
    { name: 'ZTMESH_CA_BUNDLE', value: BUNDLE_PATH },
    { name: 'ZTMESH_CA_TOKEN_FILE', value: TOKEN_PATH },
    // Dependent env expansion: the ID this pod will be granted, requested explicitly so a mismatch is visible.
    { name: 'ZTMESH_IDENTITY_SPIFFE_ID', value: `spiffe://${options.trustDomain}/ns/$(POD_NAMESPACE)/sa/$(SERVICE_ACCOUNT)` },
    { name: 'ZTMESH_HEALTH', value: `0.0.0.0:${HEALTH_PORT}` },
    { name: 'NODE_OPTIONS', value: SIDECAR_NODE_FLAGS.join(' ') },
  ];
  if (s.ttl) env.push({ name: 'ZTMESH_IDENTITY_TTL', value: s.ttl });
  if (s.workloadApi) {
    // The socket's directory is pod-private, so every uid of the pod is admitted (docs/workload-api.md "Access").
    env.push({ name: 'ZTMESH_WORKLOAD_API_SOCKET', value: WORKLOAD_API_SOCKET }, { name: 'ZTMESH_WORKLOAD_API_ALLOW_UIDS', value: '*' });
  }
  if (Object.keys(appProbes).length) env.push({ name: 'ZTMESH_APP_PROBES', value: JSON.stringify(appProbes) });
  if (options.mode === 'transparent') {
    env.push({ name: 'ZTMESH_TRANSPARENT_ENABLED', value: 'true' });
    if (s.allow.length) env.push({ name: 'ZTMESH_TRANSPARENT_ALLOW', value: s.allow.join(',') });
  } else if (s.inboundPorts?.length) {
    // Explicit mode: one mTLS listener per app port, 15006 upwards, forwarding to the app on loopback.
    const inbound = s.inboundPorts.map((p, i) => ({
      name: `in-${p}`,
      listen: `0.0.0.0:${INBOUND_PORT + i}`,
      forward: `127.0.0.1:${p}`,
      ...(s.allow.length ? { allow: s.allow } : {}),
    }));
    env.push({ name: 'ZTMESH_INBOUND', value: JSON.stringify(inbound) });
  }
  return env;
}

const RESTRICTED = {
  allowPrivilegeEscalation: false,
  readOnlyRootFilesystem: true,
  privileged: false,
  seccompProfile: { type: 'RuntimeDefault' },
};

function sidecarContainer(options: InjectOptions, s: Settings, appProbes: Record<string, AppProbe>): ContainerLike {
  const probe = (path: string, extra: Record<string, number>) => ({ httpGet: { path, port: HEALTH_PORT }, ...extra });
  return {
    name: SIDECAR_NAME,
    image: options.image,
    imagePullPolicy: 'IfNotPresent',
    args: ['sidecar'],
    env: sidecarEnv(options, s, appProbes),
    ports: [{ name: 'ztm-health', containerPort: HEALTH_PORT, protocol: 'TCP' }],
    // Startup on /readyz: with a native sidecar the kubelet starts the app only after this passes,
    // i.e. once the sidecar holds an SVID and its listeners are up (2 min budget).
    startupProbe: probe('/readyz', { periodSeconds: 1, failureThreshold: 120, timeoutSeconds: 1 }),
    readinessProbe: probe('/readyz', { periodSeconds: 5, failureThreshold: 3, timeoutSeconds: 1 }),
    livenessProbe: probe('/healthz', { periodSeconds: 10, failureThreshold: 3, timeoutSeconds: 1 }),
    resources: { requests: { cpu: '20m', memory: '64Mi' }, limits: { memory: '256Mi' } },
    securityContext: {
      ...RESTRICTED,
      runAsUser: PROXY_UID,
      runAsGroup: PROXY_UID,
      runAsNonRoot: true,
      capabilities: { drop: ['ALL'] },
    },
    volumeMounts: [
      { name: TOKEN_VOLUME, mountPath: TOKEN_DIR, readOnly: true },
      { name: BUNDLE_VOLUME, mountPath: BUNDLE_DIR, readOnly: true },
      ...(s.workloadApi ? [{ name: WORKLOAD_API_VOLUME, mountPath: WORKLOAD_API_DIR }] : []),
    ],
  };
}

/** An app container with the Workload API socket mounted and SPIFFE_ENDPOINT_SOCKET set (unless it sets its own). */
function withWorkloadApi(c: ContainerLike): ContainerLike {
  const env = Array.isArray(c.env) ? (c.env as { name?: string }[]) : [];
  const mounts = Array.isArray(c.volumeMounts) ? (c.volumeMounts as { name?: string }[]) : [];
  return {
    ...c,
    env: env.some((e) => e.name === SPIFFE_ENDPOINT_SOCKET) ? env : [...env, { name: SPIFFE_ENDPOINT_SOCKET, value: `unix://${WORKLOAD_API_SOCKET}` }],
    volumeMounts: [...mounts.filter((m) => m.name !== WORKLOAD_API_VOLUME), { name: WORKLOAD_API_VOLUME, mountPath: WORKLOAD_API_DIR, readOnly: true }],
  };
}

function iptablesContainer(options: InjectOptions, s: Settings): ContainerLike {
  const args = ['iptables', '--proxy-uid', String(PROXY_UID)];
  if (s.inboundPorts) args.push('--include-inbound-ports', s.inboundPorts.join(','));
  if (s.excludeInboundPorts.length) args.push('--exclude-inbound-ports', s.excludeInboundPorts.join(','));
  if (s.excludeOutboundCidrs.length) args.push('--exclude-outbound-cidrs', s.excludeOutboundCidrs.join(','));
  return {
    name: INIT_NAME,
    image: options.image,
    imagePullPolicy: 'IfNotPresent',
    args,
    resources: { requests: { cpu: '10m', memory: '32Mi' }, limits: { memory: '128Mi' } },
    // Root only in the pod's network namespace, and only the two capabilities iptables needs.
    securityContext: {
      ...RESTRICTED,
      runAsUser: 0,
      runAsGroup: 0,
      runAsNonRoot: false,
      capabilities: { add: ['NET_ADMIN', 'NET_RAW'], drop: ['ALL'] },
    },
  };
}

function volumes(s: Settings): Record<string, unknown>[] {
  return [
    {
      name: TOKEN_VOLUME,
      projected: {
        sources: [{ serviceAccountToken: { audience: TOKEN_AUDIENCE, expirationSeconds: TOKEN_EXPIRATION_SECONDS, path: 'token' } }],
      },
    },
    { name: BUNDLE_VOLUME, configMap: { name: TRUST_BUNDLE_CONFIGMAP, items: [{ key: TRUST_BUNDLE_KEY, path: TRUST_BUNDLE_KEY }] } },
    ...(s.workloadApi ? [{ name: WORKLOAD_API_VOLUME, emptyDir: { medium: 'Memory', sizeLimit: '1Mi' } }] : []),
  ];
}

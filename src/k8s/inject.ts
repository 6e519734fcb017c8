// Sidecar injection as one pure function over a pod (metadata + spec): no I/O, no clock.
// `ztmesh inject` (manifests) and `ztmesh webhook` (AdmissionReview) both call injectPod, so they cannot drift.
//
// Invariants: injectPod never mutates its input; everything it adds or changes is recorded in the ztmesh.io/status
// annotation, so that uninjectPod (uninject.ts) gives back exactly the pod it was given; injecting an injected pod
// re-injects it from that original (an upgrade), and answers `up_to_date` when nothing would change.
import { isDeepStrictEqual } from 'node:util';
import {
  BUNDLE_DIR, BUNDLE_PATH, CA_SERVICE_ADDRESS, DEFAULT_TRUST_DOMAIN, PORTS, PROXY_UID, SIDECAR_OWN_PORTS, TOKEN_AUDIENCE, TOKEN_DIR, TOKEN_PATH,
  SIDECAR_NODE_FLAGS, SPIFFE_ENDPOINT_SOCKET, TRUST_BUNDLE_CONFIGMAP, TRUST_BUNDLE_KEY, WORKLOAD_API_DIR, WORKLOAD_API_SOCKET,
} from '../common/mesh.js';
import { DEFAULT_IMAGE, ZTMESH_VERSION } from '../common/version.js';
import { validateTrustDomain } from '../pki/spiffe-id.js';
import { ANNOTATION, ANNOTATIONS, MESHED_LABEL, parseQuantity, readAnnotations, type AnnotationValues } from './annotations.js';
import {
  LEGACY_JOB_WARNING, declaredTcpPorts, hostPortWarnings, refuseRequestAboveLimit, refuseSidecarPortAnnotation, refuseSidecarPorts,
  runsToCompletion, sidecarPorts,
} from './inject-checks.js';
import { METRICS_LISTEN, planMetrics, type MetricsPlan } from './inject-metrics.js';
import {
  BUNDLE_VOLUME, INIT_NAME, SIDECAR_NAME, TOKEN_VOLUME, WORKLOAD_API_VOLUME, checkPodShape, type ContainerLike, type PodLike, type PodSpecLike,
} from './pod-shape.js';
import { PROBE_FIELDS, rewriteProbes, type AppProbe } from './probe-rewrite.js';
import { uninjectPod, type InjectionRecord } from './uninject.js';
import { formatHostPort } from '../common/address.js';

export { ANNOTATION, MESHED_LABEL, BUNDLE_VOLUME, INIT_NAME, SIDECAR_NAME, TOKEN_VOLUME, WORKLOAD_API_VOLUME };
export type { ContainerLike, PodLike, PodSpecLike };
export { DEFAULT_IMAGE };

/** Projected token lifetime; the kubelet refreshes it at 80%, the sidecar re-reads the file on every use. */
export const TOKEN_EXPIRATION_SECONDS = 3600;
/** The sidecar's ports in an injected pod (common/mesh.ts). */
const HEALTH_PORT = PORTS.sidecarHealth;
const INBOUND_PORT = PORTS.inbound;
/** The shape of the status annotation; bump when what it records changes (uninject reads every shape so far). */
export const INJECTOR_VERSION = '2';

/**
 * The sidecar's resources unless the pod's annotations say otherwise (docs/kubernetes.md "Sidecar resources").
 * Derived from the private memory (RssAnon: the node binary's pages are shared) the benchmark measured per sidecar,
 * bench/results/2026-12-07T06-40-04Z.md: 36.8 MiB at rest; peaks of 39.4 (rr1), 40.6 (rr32), 71.2 (bulk), 73.4
 * (conn1), 96.7 (conn16) and 214.3 MiB (idle, 9,500 connections held). Rule: 1.5 times the measurement, rounded up to
 * a multiple of 64Mi; the request from rest (64Mi), the limit from the worst peak, idle included (384Mi), so that
 * none of the benchmark's workloads is OOM-killed. No CPU limit: throttling adds latency to every hop.
 */
export const SIDECAR_RESOURCES = { cpu: '20m', memory: '64Mi', memoryLimit: '384Mi' } as const;

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

/** What the caller knows about the pod: the kind of workload whose template it is (a Pod itself: "Pod"). */
export interface InjectContext {
  kind?: string;
}

export type InjectResult =
  /**
   * `warnings`: one line each about something the injected pod will do that its author may not expect.
   * `upgradedFrom`: set when the pod was injected before (the ztmesh version that did it, or "unknown").
   */
  | { outcome: 'injected'; pod: PodLike; warnings: string[]; upgradedFrom?: string }
  | { outcome: 'skipped'; pod: PodLike; reason: 'opted_out' | 'host_network' | 'up_to_date' | 'foreign_sidecar' | 'no_containers' };

/**
 * Returns a new pod with the sidecar, volumes, label and (transparent mode) the iptables init container added, or the
 * input unchanged with the reason it was skipped. An injected pod is re-injected from its original with these options
 * (keeping the mode and sidecar kind it was injected with): `up_to_date` when that changes nothing.
 * Throws ConfigError `invalid_annotation` naming the annotation when one is malformed, `port_conflict` naming the
 * field when the app would use a sidecar port, and `invalid_workload` naming the field (below `at`, e.g.
 * "spec.template") when the pod is not shaped as Kubernetes defines it.
 */
export function injectPod(input: PodLike, options: InjectOptions, at = '', ctx: InjectContext = {}): InjectResult {
  checkPodShape(input, at);
  const annotations = input.metadata?.annotations ?? {};
  const labels = input.metadata?.labels ?? {};
  if (annotations[ANNOTATION.inject] === 'false' || labels[ANNOTATION.inject] === 'false') return { outcome: 'skipped', pod: input, reason: 'opted_out' };
  if (input.spec?.hostNetwork === true) return { outcome: 'skipped', pod: input, reason: 'host_network' };
  if (annotations[ANNOTATION.status] !== undefined) {
    const original = uninjectPod(input, at);
    if (original.outcome !== 'uninjected') return { outcome: 'skipped', pod: input, reason: 'foreign_sidecar' };
    const recorded = { mode: original.record.mode, legacySidecar: original.record.sidecar === 'legacy' };
    const again = injectFresh(original.pod, { ...options, ...recorded }, at, ctx);
    if (again.outcome !== 'injected' || isDeepStrictEqual(again.pod, input)) return { outcome: 'skipped', pod: input, reason: 'up_to_date' };
    return { ...again, upgradedFrom: annotations[ANNOTATION.version] ?? 'unknown' };
  }
  if (hasContainer(input.spec, SIDECAR_NAME)) return { outcome: 'skipped', pod: input, reason: 'foreign_sidecar' };
  return injectFresh(input, options, at, ctx);
}

/** The pod's settings: its validated annotations, with the defaults the pod's own ports give. */
interface Settings {
  /** undefined = every inbound port ("*"). */
  inboundPorts?: number[];
  excludeInboundPorts: number[];
  excludeOutboundCidrs: string[];
  allow: string[];
  ttl?: string;
  rewriteProbes: boolean;
  /** The SPIFFE Workload API socket for the app containers (ztmesh.io/workload-api: "false" leaves it out). */
  workloadApi: boolean;
  values: AnnotationValues;
  metrics: MetricsPlan;
}

function settingsOf(annotations: Record<string, string>, values: AnnotationValues, containers: ContainerLike[]): Settings {
  const declared = declaredTcpPorts(containers);
  const inbound = values.inboundPorts;
  return {
    // No declared port: intercept every inbound port rather than leave the pod open.
    ...(inbound === '*' ? {} : inbound ? { inboundPorts: inbound } : declared.length ? { inboundPorts: declared } : {}),
    excludeInboundPorts: values.excludeInboundPorts ?? [],
    excludeOutboundCidrs: values.excludeOutboundCidrs ?? [],
    allow: values.allow ?? [],
    ...(values.ttl !== undefined ? { ttl: values.ttl } : {}),
    rewriteProbes: values.rewriteProbes ?? true,
    workloadApi: values.workloadApi ?? true,
    values,
    metrics: planMetrics(annotations, values, declared),
  };
}

function injectFresh(input: PodLike, options: InjectOptions, at: string, ctx: InjectContext): InjectResult {
  if (!input.spec?.containers?.length) return { outcome: 'skipped', pod: input, reason: 'no_containers' };
  validateTrustDomain(options.trustDomain);
  const annotations = input.metadata?.annotations ?? {};
  const read = readAnnotations(annotations);
  const s = settingsOf(annotations, read.values, input.spec.containers);
  const taken = sidecarPorts(explicitListenerPorts(options, s));
  refuseSidecarPortAnnotation(ANNOTATION.inboundPorts, Array.isArray(s.values.inboundPorts) ? s.values.inboundPorts : undefined, taken);
  refuseSidecarPorts(input.spec, taken, at);
  if (s.metrics.app && s.metrics.appPortFrom) refuseSidecarPortAnnotation(s.metrics.appPortFrom, [s.metrics.app.port], taken);
  const resources = sidecarResources(s.values);

  const pod = structuredClone(input) as PodLike & { spec: PodSpecLike };
  const spec = pod.spec;
  const record: InjectionRecord = {
    version: INJECTOR_VERSION, mode: options.mode, sidecar: options.legacySidecar ? 'legacy' : 'native',
    initContainers: [], volumes: [TOKEN_VOLUME, BUNDLE_VOLUME, ...(s.workloadApi ? [WORKLOAD_API_VOLUME] : [])], restore: {},
  };
  const created = (path: string) => (record.restore.created ??= []).push(path);
  const appProbes = s.rewriteProbes ? redirectAppProbes(spec, options, s, at, record) : {};
  const sidecar = sidecarContainer(options, s, appProbes, resources);

  const inits: ContainerLike[] = [];
  if (options.mode === 'transparent') inits.push(iptablesContainer(options, s));
  if (!options.legacySidecar) {
    const { name, image, imagePullPolicy, ...rest } = sidecar;
    inits.push({ name, image, imagePullPolicy, restartPolicy: 'Always', ...rest });
  }
  if (inits.length) {
    if (!spec.initContainers) created('spec.initContainers');
    spec.initContainers = [...inits, ...(spec.initContainers ?? [])];
  }
  record.initContainers = inits.map((c) => c.name!);
  if (options.legacySidecar) {
    spec.containers = [sidecar, ...spec.containers!];
    record.containers = [SIDECAR_NAME];
  }
  if (s.workloadApi) spec.containers = spec.containers!.map((c) => (c.name === SIDECAR_NAME ? c : withWorkloadApi(c, record)));
  if (!spec.volumes) created('spec.volumes');
  spec.volumes = [...(spec.volumes ?? []).filter((v) => !record.volumes.includes(String(v.name))), ...volumes(s)];

  if (!pod.metadata) created('metadata');
  const metadata = (pod.metadata ??= {});
  if (!metadata.labels) created('metadata.labels');
  if (!metadata.annotations) created('metadata.annotations');
  const set = (map: 'labels' | 'annotations', key: string, value: string) => {
    const current = (metadata[map] ??= {});
    ((record.restore[map] ??= {}) as Record<string, string | null>)[key] = current[key] ?? null;
    current[key] = value;
  };
  set('labels', MESHED_LABEL, 'true');
  for (const [k, v] of Object.entries(s.metrics.annotations)) set('annotations', k, v);
  set('annotations', ANNOTATION.version, ZTMESH_VERSION);
  metadata.annotations![ANNOTATION.status] = JSON.stringify(record);
  return { outcome: 'injected', pod, warnings: injectWarnings(input, options, s, ctx, read.warnings) };
}

function injectWarnings(input: PodLike, options: InjectOptions, s: Settings, ctx: InjectContext, annotationWarnings: string[]): string[] {
  const warnings = [...annotationWarnings, ...s.metrics.warnings, ...hostPortWarnings(input.spec!, interceptedPort(options, s), options.mode)];
  if (options.legacySidecar && runsToCompletion(ctx.kind, input.metadata)) warnings.push(LEGACY_JOB_WARNING);
  if (options.mode === 'explicit') {
    for (const k of ['outboundPolicy', 'passthroughCidrs', 'passthroughPorts', 'inboundMode'] as const) {
      if (s.values[k] !== undefined) warnings.push(`annotation ${ANNOTATIONS[k].name} applies to transparent mode only and is ignored in explicit mode`);
    }
  }
  return warnings;
}

/** Explicit mode: one mTLS listener per app port, 15006 upwards. */
function explicitListenerPorts(options: InjectOptions, s: Settings): number[] {
  return options.mode === 'explicit' ? (s.inboundPorts ?? []).map((_, i) => INBOUND_PORT + i) : [];
}

/** Requests and limits from the annotations over SIDECAR_RESOURCES; a request above its limit is refused. */
function sidecarResources(v: AnnotationValues): Record<string, Record<string, string>> {
  const memory = v.proxyMemory ?? parseQuantity(SIDECAR_RESOURCES.memory, 'default');
  const memoryLimit = v.proxyMemoryLimit ?? parseQuantity(SIDECAR_RESOURCES.memoryLimit, 'default');
  refuseRequestAboveLimit({ ...memory, from: v.proxyMemory ? ANNOTATIONS.proxyMemory.name : 'the default' },
    { ...memoryLimit, from: v.proxyMemoryLimit ? ANNOTATIONS.proxyMemoryLimit.name : `the default; set ${ANNOTATIONS.proxyMemoryLimit.name}` });
  if (v.proxyCpu && v.proxyCpuLimit) refuseRequestAboveLimit({ ...v.proxyCpu, from: ANNOTATIONS.proxyCpu.name }, { ...v.proxyCpuLimit, from: ANNOTATIONS.proxyCpuLimit.name });
  return {
    requests: { cpu: v.proxyCpu?.text ?? SIDECAR_RESOURCES.cpu, memory: memory.text },
    limits: { ...(v.proxyCpuLimit ? { cpu: v.proxyCpuLimit.text } : {}), memory: memoryLimit.text },
  };
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
 * in place on the cloned spec; records each original probe for uninject and returns them for the sidecar.
 */
function redirectAppProbes(spec: PodSpecLike, options: InjectOptions, s: Settings, at: string, record: InjectionRecord): Record<string, AppProbe> {
  const opts = { intercepted: interceptedPort(options, s), healthPort: HEALTH_PORT };
  const field = (f: string) => (at ? `${at}.spec.${f}` : `spec.${f}`);
  const remember = (before: readonly ContainerLike[], after: readonly ContainerLike[]) => before.forEach((c, i) => {
    for (const f of Object.keys(PROBE_FIELDS)) {
      if (after[i]![f] !== c[f]) ((record.restore.probes ??= {})[c.name!] ??= {})[f] = c[f];
    }
  });
  const apps = rewriteProbes(spec.containers ?? [], opts, field('containers'));
  remember(spec.containers ?? [], apps.containers);
  spec.containers = apps.containers;
  let appProbes = apps.appProbes;
  if (spec.initContainers?.length) {
    const restartable = spec.initContainers.map((c) => (c.restartPolicy === 'Always' ? c : { name: undefined }));
    const inits = rewriteProbes(restartable, opts, field('initContainers'));
    remember(restartable, inits.containers);
    spec.initContainers = spec.initContainers.map((c, i) => (c.restartPolicy === 'Always' ? inits.containers[i]! : c));
    appProbes = { ...appProbes, ...inits.appProbes };
  }
  return appProbes;
}

function hasContainer(spec: PodSpecLike | undefined, name: string): boolean {
  return [...(spec?.containers ?? []), ...(spec?.initContainers ?? [])].some((c) => c.name === name);
}

/** The ztmesh.io/passthrough-* annotations as the sidecar's `transparent.passthrough` value. */
function passthrough(v: AnnotationValues): { cidrs: string[]; ports: number[] } | undefined {
  if (v.passthroughCidrs === undefined && v.passthroughPorts === undefined) return undefined;
  return { cidrs: v.passthroughCidrs ?? [], ports: v.passthroughPorts ?? [] };
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
    { name: 'ZTMESH_HEALTH', value: formatHostPort('0.0.0.0', HEALTH_PORT) },
    { name: 'ZTMESH_METRICS_LISTEN', value: METRICS_LISTEN },
    { name: 'NODE_OPTIONS', value: SIDECAR_NODE_FLAGS.join(' ') },
  ];
  if (s.metrics.app) env.push({ name: 'ZTMESH_METRICS_APP', value: JSON.stringify(s.metrics.app) });
  if (s.ttl) env.push({ name: 'ZTMESH_IDENTITY_TTL', value: s.ttl });
  if (s.workloadApi) {
    // The socket's directory is pod-private, so every uid of the pod is admitted (docs/workload-api.md "Who may call").
    env.push({ name: 'ZTMESH_WORKLOAD_API_SOCKET', value: WORKLOAD_API_SOCKET }, { name: 'ZTMESH_WORKLOAD_API_ALLOW_UIDS', value: '*' });
  }
  if (Object.keys(appProbes).length) env.push({ name: 'ZTMESH_APP_PROBES', value: JSON.stringify(appProbes) });
  if (s.values.revokeEstablished !== undefined) env.push({ name: 'ZTMESH_AUTHZ_REVOKE_ESTABLISHED', value: String(s.values.revokeEstablished) });
  if (options.mode === 'transparent') {
    env.push({ name: 'ZTMESH_TRANSPARENT_ENABLED', value: 'true' });
    if (s.allow.length) env.push({ name: 'ZTMESH_TRANSPARENT_ALLOW', value: s.allow.join(',') });
    const v = s.values;
    if (v.outboundPolicy) env.push({ name: 'ZTMESH_TRANSPARENT_OUTBOUND_POLICY', value: v.outboundPolicy });
    const plain = passthrough(v);
    if (plain) env.push({ name: 'ZTMESH_TRANSPARENT_PASSTHROUGH', value: JSON.stringify(plain) });
    if (v.inboundMode) env.push({ name: 'ZTMESH_TRANSPARENT_INBOUND_MODE', value: v.inboundMode });
  } else if (s.inboundPorts?.length) {
    // Explicit mode: one mTLS listener per app port, 15006 upwards, forwarding to the app on loopback.
    const inbound = s.inboundPorts.map((p, i) => ({
      name: `in-${p}`,
      listen: formatHostPort('0.0.0.0', INBOUND_PORT + i),
      forward: formatHostPort('127.0.0.1', p),
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

function sidecarContainer(options: InjectOptions, s: Settings, appProbes: Record<string, AppProbe>, resources: Record<string, unknown>): ContainerLike {
  const probe = (path: string, extra: Record<string, number>) => ({ httpGet: { path, port: HEALTH_PORT }, ...extra });
  return {
    name: SIDECAR_NAME,
    image: options.image,
    imagePullPolicy: 'IfNotPresent',
    args: ['sidecar'],
    env: sidecarEnv(options, s, appProbes) as ContainerLike['env'],
    ports: [
      { name: 'ztm-health', containerPort: HEALTH_PORT, protocol: 'TCP' },
      { name: 'ztm-metrics', containerPort: PORTS.sidecarMetrics, protocol: 'TCP' },
    ],
    // Startup on /readyz: with a native sidecar the kubelet starts the app only after this passes,
    // i.e. once the sidecar holds an SVID and its listeners are up (2 min budget).
    startupProbe: probe('/readyz', { periodSeconds: 1, failureThreshold: 120, timeoutSeconds: 1 }),
    readinessProbe: probe('/readyz', { periodSeconds: 5, failureThreshold: 3, timeoutSeconds: 1 }),
    livenessProbe: probe('/healthz', { periodSeconds: 10, failureThreshold: 3, timeoutSeconds: 1 }),
    resources,
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

/**
 * An app container with the Workload API socket mounted read-only and SPIFFE_ENDPOINT_SOCKET set (a container that
 * sets its own keeps it); what it added goes into the record, for uninject.
 */
function withWorkloadApi(c: ContainerLike, record: InjectionRecord): ContainerLike {
  const env = c.env ?? [];
  const mounts = Array.isArray(c.volumeMounts) ? (c.volumeMounts as { name?: string }[]) : [];
  const added: { env?: string[]; volumeMounts?: string[]; created?: ('env' | 'volumeMounts')[] } = { volumeMounts: [WORKLOAD_API_VOLUME] };
  const out: ContainerLike = { ...c, volumeMounts: [...mounts, { name: WORKLOAD_API_VOLUME, mountPath: WORKLOAD_API_DIR, readOnly: true }] };
  if (!env.some((e) => e.name === SPIFFE_ENDPOINT_SOCKET)) {
    out.env = [...env, { name: SPIFFE_ENDPOINT_SOCKET, value: `unix://${WORKLOAD_API_SOCKET}` }];
    added.env = [SPIFFE_ENDPOINT_SOCKET];
  }
  const created = (['env', 'volumeMounts'] as const).filter((f) => out[f] !== c[f] && c[f] === undefined);
  if (created.length) added.created = created;
  (record.restore.containerItems ??= {})[c.name ?? ''] = added;
  return out;
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

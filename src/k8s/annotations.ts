// The one table of ztmesh pod annotations: each one's name, meaning, example and validation. `ztmesh inject` and the
// webhook both read a pod through `readAnnotations`, so a value either fails in both, naming the annotation, or in neither.
//
// Invariants: a value the table accepts is one the sidecar and the iptables init container accept too (CIDRs, ports,
// quantities, durations, patterns), so a pod never crash-loops on an annotation injection let through; every
// `ztmesh.io/*` annotation a pod carries is in the table or draws a warning (a typo is never silently ignored).
import { parseCidr } from '../common/cidr.js';
import { parseDuration } from '../common/duration.js';
import { ConfigError } from '../common/errors.js';
import { parseSpiffePattern } from '../pki/spiffe-id.js';

/** The label inject and the webhook put on every pod they mesh (the CA's membership watch selects on it). */
export const MESHED_LABEL = 'ztmesh.io/meshed';

/** The prefix of every ztmesh annotation. */
export const ANNOTATION_PREFIX = 'ztmesh.io/';

/** Refuses an annotation value: ConfigError `invalid_annotation` naming the annotation, the value and why. */
export function invalidAnnotation(name: string, value: string, why: string): never {
  throw new ConfigError('invalid_annotation', `annotation ${name}: "${value}" ${why}`);
}

/** One annotation: what it means (docs/kubernetes.md "Annotations" shows this table) and how its value is read. */
export interface AnnotationRule<T> {
  name: string;
  meaning: string;
  example: string;
  /** Written by the injector itself (never set by hand). */
  written?: true;
  /** The typed value; throws via invalidAnnotation. */
  parse(value: string, name: string): T;
}

function list(value: string): string[] {
  return value.split(',').map((s) => s.trim()).filter((s) => s !== '');
}

const isPort = (n: number) => Number.isInteger(n) && n >= 1 && n <= 65535;

/** "8080, 8443" → [8080, 8443]; an empty list is refused. */
export function parsePorts(value: string, name: string): number[] {
  const out = list(value).map((p) => {
    const n = Number(p);
    if (!/^\d+$/.test(p) || !isPort(n)) invalidAnnotation(name, value, `has "${p}", not a port number (1-65535)`);
    return n;
  });
  if (out.length === 0) invalidAnnotation(name, value, 'is empty');
  return out;
}

/** One port number. */
export function parsePort(value: string, name: string): number {
  const ports = parsePorts(value, name);
  if (ports.length !== 1) invalidAnnotation(name, value, 'must be one port number');
  return ports[0]!;
}

function cidrs(value: string, name: string): string[] {
  const out = list(value);
  for (const c of out) {
    if (!c.includes('/') || !parseCidr(c)) invalidAnnotation(name, value, `has "${c}", not an IPv4 or IPv6 CIDR (address/prefix, prefix at most 32 or 128)`);
  }
  if (out.length === 0) invalidAnnotation(name, value, 'is empty');
  return out;
}

const oneOf = <T extends string>(choices: readonly T[]) => (value: string, name: string): T => {
  if (!(choices as readonly string[]).includes(value)) invalidAnnotation(name, value, `is not one of ${choices.map((c) => `"${c}"`).join(', ')}`);
  return value as T;
};

const bool = (value: string, name: string): boolean => oneOf(['true', 'false'] as const)(value, name) === 'true';

const QUANTITY = /^(\d+(?:\.\d*)?|\.\d+)(?:([numkMGTPE]|[KMGTPE]i)|[eE]([+-]?\d+))?$/;
const SUFFIX: Record<string, number> = {
  n: 1e-9, u: 1e-6, m: 1e-3, '': 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18,
  Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60,
};

/** A Kubernetes resource quantity ("100m", "0.5", "128Mi", "1e3") and its value, as the API server reads it. */
export function parseQuantity(value: string, name: string): { text: string; value: number } {
  const m = QUANTITY.exec(value.trim());
  if (!m) invalidAnnotation(name, value, 'is not a Kubernetes quantity (e.g. 100m, 0.5, 128Mi, 1Gi)');
  const n = Number(m[1]) * (m[3] !== undefined ? 10 ** Number(m[3]) : SUFFIX[m[2] ?? '']!);
  return { text: value.trim(), value: n };
}

function patterns(value: string, name: string): string[] {
  const out = list(value);
  for (const p of out) {
    try {
      parseSpiffePattern(p);
    } catch (e) {
      invalidAnnotation(name, value, `has an invalid SPIFFE pattern: ${(e as Error).message}`);
    }
  }
  if (out.length === 0) invalidAnnotation(name, value, 'is empty');
  return out;
}

function metricsPath(value: string, name: string): string {
  if (!/^\/[\x21-\x7e]*$/.test(value)) invalidAnnotation(name, value, 'is not an absolute URL path (e.g. /metrics)');
  return value;
}

function ttl(value: string, name: string): string {
  if (parseDuration(value) === undefined) invalidAnnotation(name, value, 'is not a duration (e.g. 30m, 1h)');
  return value.trim();
}

const rule = <T>(name: string, meaning: string, example: string, parse: (value: string, name: string) => T, written?: true): AnnotationRule<T> =>
  ({ name, meaning, example, parse, ...(written ? { written } : {}) });

/** Every ztmesh annotation, in the order docs/kubernetes.md lists them. */
export const ANNOTATIONS = {
  inject: rule('ztmesh.io/inject', '`"false"` opts the pod out (also as a label); `"true"` opts a single pod in (as a label, for the webhook)', '"false"', bool),
  inboundPorts: rule('ztmesh.io/inbound-ports', 'inbound ports to intercept, instead of the declared `containerPort`s; `"*"` means all',
    '"8080,8443"', (v, n): number[] | '*' => (v.trim() === '*' ? '*' : parsePorts(v, n))),
  excludeInboundPorts: rule('ztmesh.io/exclude-inbound-ports', 'inbound ports left in plain text (their probes are left as they are)', '"9901"', parsePorts),
  excludeOutboundCidrs: rule('ztmesh.io/exclude-outbound-cidrs', 'destinations whose traffic never reaches the sidecar (not redirected)', '"10.0.0.0/8,fd00::/8"', cidrs),
  allow: rule('ztmesh.io/allow', 'inbound allow-list of SPIFFE ID patterns; without one, any ID of the trust domain may connect',
    '"spiffe://cluster.local/ns/shop/sa/web,spiffe://cluster.local/ns/ops/*"', patterns),
  ttl: rule('ztmesh.io/ttl', 'requested certificate lifetime (the CA clamps it)', '"30m"', ttl),
  rewriteProbes: rule('ztmesh.io/rewrite-probes', '`"false"` leaves the app\'s probes as they are (see "Health probes")', '"false"', bool),
  workloadApi: rule('ztmesh.io/workload-api', '`"false"` leaves out the SPIFFE Workload API socket and `SPIFFE_ENDPOINT_SOCKET` ([workload-api.md](workload-api.md))', '"false"', bool),
  outboundPolicy: rule('ztmesh.io/outbound-policy', 'transparent mode: what happens to a destination that is not in the mesh: `passthrough` (plain TCP, counted) or `registry-only` (refused)',
    '"registry-only"', oneOf(['passthrough', 'registry-only'] as const)),
  passthroughCidrs: rule('ztmesh.io/passthrough-cidrs', 'transparent mode: destinations the sidecar forwards as plain TCP (redirected, counted, shown in `/status`)', '"10.96.0.1/32"', cidrs),
  passthroughPorts: rule('ztmesh.io/passthrough-ports', 'transparent mode: destination ports the sidecar forwards as plain TCP', '"5432,6379"', parsePorts),
  inboundMode: rule('ztmesh.io/inbound-mode', 'transparent mode: `strict` (mTLS only) or `permissive` (plaintext callers forwarded too, without an identity, while a namespace is meshed step by step)',
    '"permissive"', oneOf(['strict', 'permissive'] as const)),
  revokeEstablished: rule('ztmesh.io/revoke-established', '`"false"` keeps established connections open when a policy change stops allowing their peer (by default they are closed, `policy_revoked`)',
    '"false"', bool),
  proxyCpu: rule('ztmesh.io/proxy-cpu', 'the sidecar\'s CPU request', '"50m"', parseQuantity),
  proxyMemory: rule('ztmesh.io/proxy-memory', 'the sidecar\'s memory request', '"96Mi"', parseQuantity),
  proxyCpuLimit: rule('ztmesh.io/proxy-cpu-limit', 'the sidecar\'s CPU limit (none by default)', '"1"', parseQuantity),
  proxyMemoryLimit: rule('ztmesh.io/proxy-memory-limit', 'the sidecar\'s memory limit', '"512Mi"', parseQuantity),
  appMetricsPort: rule('ztmesh.io/app-metrics-port', 'the app\'s own metrics port, which the sidecar scrapes on loopback and merges into its `:15020/metrics` (default: `prometheus.io/port`)', '"9090"', parsePort),
  appMetricsPath: rule('ztmesh.io/app-metrics-path', 'the path of the app\'s own metrics (default: `prometheus.io/path`, else `/metrics`)', '"/stats/prometheus"', metricsPath),
  metricsMerge: rule('ztmesh.io/metrics-merge', '`"false"` leaves the pod\'s `prometheus.io/*` annotations as they are and merges nothing', '"false"', bool),
  status: rule('ztmesh.io/status', 'written by the injector: what it added, and what to restore on `ztmesh uninject`', '(JSON)', (v) => v, true),
  version: rule('ztmesh.io/version', 'written by the injector: the ztmesh version that injected the pod (`ztmesh check --proxy` compares it)', '"0.1.0"', (v) => v, true),
} as const;

/** Annotation names by key, for the code that writes or looks up one. */
export const ANNOTATION = Object.fromEntries(Object.entries(ANNOTATIONS).map(([k, r]) => [k, r.name])) as { readonly [K in keyof typeof ANNOTATIONS]: string };

type Rules = typeof ANNOTATIONS;
/** The validated values of the annotations a pod carries (absent ones are undefined). */
export type AnnotationValues = { -readonly [K in keyof Rules]?: ReturnType<Rules[K]['parse']> };

const BY_NAME = new Map(Object.entries(ANNOTATIONS).map(([k, r]) => [r.name as string, k as keyof Rules]));

/**
 * Reads and validates every ztmesh annotation of a pod; throws on the first invalid one (naming it). Unknown
 * `ztmesh.io/*` annotations come back as warnings.
 */
export function readAnnotations(annotations: Readonly<Record<string, string>>): { values: AnnotationValues; warnings: string[] } {
  const values: Record<string, unknown> = {};
  const warnings: string[] = [];
  for (const [name, value] of Object.entries(annotations)) {
    if (!name.startsWith(ANNOTATION_PREFIX)) continue;
    const key = BY_NAME.get(name);
    if (key === undefined) {
      warnings.push(`annotation ${name} is not a ztmesh annotation and is ignored (see docs/kubernetes.md "Annotations")`);
      continue;
    }
    values[key] = ANNOTATIONS[key].parse(value, name);
  }
  return { values: values as AnnotationValues, warnings };
}

// Metrics in an injected pod (docs/design.md "Metrics in a pod"): the pod's prometheus.io annotations are pointed at
// the sidecar's plain-HTTP :15020/metrics, and the app's own metrics endpoint they named is handed to the sidecar,
// which scrapes it on loopback and merges it in, so one scrape of the pod gets both. Pure.
import { PORTS } from '../common/mesh.js';
import { ANNOTATION, invalidAnnotation, parsePort, type AnnotationValues } from './annotations.js';
import { formatHostPort } from '../common/address.js';

/** The annotations a stock Prometheus `kubernetes-pods` job reads. */
export const PROMETHEUS_ANNOTATION = {
  scrape: 'prometheus.io/scrape',
  port: 'prometheus.io/port',
  path: 'prometheus.io/path',
  scheme: 'prometheus.io/scheme',
} as const;

/** Where the sidecar serves metrics in a pod, and its path. */
export const METRICS_LISTEN = formatHostPort('0.0.0.0', PORTS.sidecarMetrics);
export const METRICS_PATH = '/metrics';
/** The app's metrics path when nothing names one (Prometheus's own default). */
export const DEFAULT_APP_METRICS_PATH = '/metrics';

/** The app's own metrics endpoint, as the sidecar's `metrics.app` key takes it. */
export interface AppMetrics {
  port: number;
  path: string;
}

export interface MetricsPlan {
  /** The app's endpoint to merge, if the pod declares one. */
  app?: AppMetrics;
  /** The annotation that named the app's port (for errors), when one did. */
  appPortFrom?: string;
  /** Annotations to set (prometheus.io/*), pointing a `kubernetes-pods` job at the sidecar; empty: leave them. */
  annotations: Record<string, string>;
  warnings: string[];
}

/**
 * Decides what metrics injection does for a pod, from its annotations and the TCP ports its app containers declare:
 * - `ztmesh.io/metrics-merge: "false"` leaves everything as it is;
 * - `prometheus.io/scrape: "false"` leaves the prometheus.io annotations (the pod asked not to be scraped), but an
 *   app endpoint named by ztmesh.io/app-metrics-port is still merged;
 * - otherwise the annotations point at the sidecar, and the app's endpoint (ztmesh.io/app-metrics-port and -path,
 *   else prometheus.io/port and /path when scrape is "true", the port defaulting to the first declared one) is merged.
 */
export function planMetrics(annotations: Readonly<Record<string, string>>, values: AnnotationValues, declaredPorts: readonly number[]): MetricsPlan {
  if (values.metricsMerge === false) return { annotations: {}, warnings: [] };
  const warnings: string[] = [];
  const scrape = annotations[PROMETHEUS_ANNOTATION.scrape];
  const scraped = scrape === 'true';
  let port = values.appMetricsPort;
  let path = values.appMetricsPath;
  let portFrom = port !== undefined ? ANNOTATION.appMetricsPort : undefined;
  if (scraped && port === undefined) {
    const p = annotations[PROMETHEUS_ANNOTATION.port];
    port = p !== undefined ? parsePort(p, PROMETHEUS_ANNOTATION.port) : declaredPorts[0];
    if (p !== undefined) portFrom = PROMETHEUS_ANNOTATION.port;
    if (port === undefined) warnings.push(`${PROMETHEUS_ANNOTATION.scrape} is "true" but the pod names no metrics port (${PROMETHEUS_ANNOTATION.port}) and declares none: only the sidecar's metrics are served`);
  }
  if (scraped && path === undefined && annotations[PROMETHEUS_ANNOTATION.path] !== undefined) {
    path = annotations[PROMETHEUS_ANNOTATION.path]!;
    if (!path.startsWith('/')) invalidAnnotation(PROMETHEUS_ANNOTATION.path, path, 'is not an absolute URL path (e.g. /metrics)');
  }
  const scheme = annotations[PROMETHEUS_ANNOTATION.scheme];
  let app: AppMetrics | undefined = port !== undefined ? { port, path: path ?? DEFAULT_APP_METRICS_PATH } : undefined;
  if (app && scheme !== undefined && scheme.toLowerCase() !== 'http') {
    warnings.push(`${PROMETHEUS_ANNOTATION.scheme} is "${scheme}": the sidecar scrapes the app over plain HTTP on loopback, so the app's metrics are not merged`);
    app = undefined;
  }
  const merged = app ? { app, ...(portFrom ? { appPortFrom: portFrom } : {}) } : {};
  if (scrape === 'false') return { ...merged, annotations: {}, warnings };
  const rewrite: Record<string, string> = {
    [PROMETHEUS_ANNOTATION.scrape]: 'true',
    [PROMETHEUS_ANNOTATION.port]: String(PORTS.sidecarMetrics),
    [PROMETHEUS_ANNOTATION.path]: METRICS_PATH,
  };
  if (scheme !== undefined) rewrite[PROMETHEUS_ANNOTATION.scheme] = 'http';
  return { ...merged, annotations: rewrite, warnings };
}

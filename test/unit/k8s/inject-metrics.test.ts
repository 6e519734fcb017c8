// Metrics injection (docs/design.md "Metrics in a pod"): a stock `kubernetes-pods` job is pointed at the sidecar's
// :15020/metrics, and the app endpoint the pod declared is handed to the sidecar to merge; opt-outs are kept.
import { describe, expect, it } from 'vitest';
import { planMetrics } from '../../../src/k8s/inject-metrics.js';
import { readAnnotations } from '../../../src/k8s/annotations.js';

const plan = (a: Record<string, string>, declared: number[] = [8080]) => planMetrics(a, readAnnotations(a).values, declared);
const SIDECAR = { 'prometheus.io/scrape': 'true', 'prometheus.io/port': '15020', 'prometheus.io/path': '/metrics' };

describe('planMetrics', () => {
  it.each([
    ['no annotations: the sidecar is scraped, nothing merged', {}, SIDECAR, undefined],
    ['scrape with port and path', { 'prometheus.io/scrape': 'true', 'prometheus.io/port': '9090', 'prometheus.io/path': '/stats' }, SIDECAR, { port: 9090, path: '/stats' }],
    ['scrape without a port: the first declared port, /metrics', { 'prometheus.io/scrape': 'true' }, SIDECAR, { port: 8080, path: '/metrics' }],
    ['the ztmesh annotations win over prometheus.io', { 'prometheus.io/scrape': 'true', 'prometheus.io/port': '9090', 'ztmesh.io/app-metrics-port': '9100', 'ztmesh.io/app-metrics-path': '/m' }, SIDECAR, { port: 9100, path: '/m' }],
    ['a ztmesh annotation alone declares the app endpoint', { 'ztmesh.io/app-metrics-port': '9100' }, SIDECAR, { port: 9100, path: '/metrics' }],
    ['scheme is rewritten to http with the rest', { 'prometheus.io/scheme': 'http', 'prometheus.io/scrape': 'true', 'prometheus.io/port': '9090' }, { ...SIDECAR, 'prometheus.io/scheme': 'http' }, { port: 9090, path: '/metrics' }],
    ['scrape "false" is kept (not scraped), an explicit ztmesh endpoint still merged', { 'prometheus.io/scrape': 'false', 'ztmesh.io/app-metrics-port': '9100' }, {}, { port: 9100, path: '/metrics' }],
    ['metrics-merge "false" leaves everything', { 'ztmesh.io/metrics-merge': 'false', 'prometheus.io/scrape': 'true', 'prometheus.io/port': '9090' }, {}, undefined],
  ])('%s', (_, annotations, rewrite, app) => {
    const p = plan(annotations);
    expect(p.annotations).toEqual(rewrite);
    expect(p.app).toEqual(app);
  });

  it('an https app endpoint cannot be merged (the sidecar scrapes plain HTTP on loopback): a warning, and the sidecar still scraped', () => {
    const p = plan({ 'prometheus.io/scrape': 'true', 'prometheus.io/port': '9443', 'prometheus.io/scheme': 'https' });
    expect(p.app).toBeUndefined();
    expect(p.annotations).toEqual({ ...SIDECAR, 'prometheus.io/scheme': 'http' });
    expect(p.warnings).toEqual([expect.stringContaining('prometheus.io/scheme is "https"')]);
  });

  it('scrape "true" with no port anywhere warns that only the sidecar\'s metrics are served', () => {
    expect(plan({ 'prometheus.io/scrape': 'true' }, []).warnings).toEqual([expect.stringContaining('names no metrics port')]);
  });

  it('a prometheus.io/port or path that is not one is refused, naming it', () => {
    expect(() => plan({ 'prometheus.io/scrape': 'true', 'prometheus.io/port': 'http' })).toThrow(/annotation prometheus.io\/port: "http"/);
    expect(() => plan({ 'prometheus.io/scrape': 'true', 'prometheus.io/path': 'metrics' })).toThrow(/annotation prometheus.io\/path: "metrics"/);
  });
});

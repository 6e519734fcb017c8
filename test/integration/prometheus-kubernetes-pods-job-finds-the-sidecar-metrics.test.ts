// A stock Prometheus `kubernetes-pods` job, relabelled by the real Prometheus (`promtool check service-discovery`),
// finds an injected pod's metrics at the sidecar's :15020/metrics over plain HTTP, from the annotations injection
// rewrote; the app's own endpoint that the pod declared is handed to the sidecar to merge. A pod that was not
// injected is scraped where it said. The pods are read back from the stand-in API server; Debian's Prometheus has no
// Kubernetes discovery, so `podTargets` turns them into the pod role's targets and labels (one per container port,
// __meta_kubernetes_pod_annotation_<sanitized name>, ...) for a file_sd job with the stock relabelling.
//
// This tests the rendering and discovery half of issue 25's acceptance; the other half, a real sidecar answering on
// the discovered target to a real Prometheus, is test/privileged/prometheus-scrapes-an-injected-pod-through-its-sidecar.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_INJECT_OPTIONS, injectPod, type PodLike } from '../../src/k8s/inject.js';
import { findTool } from '../helpers/deploy-manifests.js';
import { startFakeApiServer, type FakeApiServer } from '../helpers/fake-apiserver.js';
import { kubernetesPodsConfig, podTargets } from '../helpers/prometheus-sd.js';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const PROMTOOL = findTool('promtool');
if (!PROMTOOL) console.warn('prometheus-kubernetes-pods-job test: promtool not found (.ci/run installs Debian\'s prometheus); skipped');

let api: FakeApiServer;
const dir = mkdtempSync(join(tmpdir(), 'ztmesh-prometheus-sd-'));

/** An app that declares its metrics the usual way: prometheus.io annotations on its own port. */
const app = (name: string, ip: string): PodLike => ({
  metadata: { name, namespace: 'shop', labels: { app: name }, annotations: { 'prometheus.io/scrape': 'true', 'prometheus.io/port': '9090', 'prometheus.io/path': '/stats/prometheus' } },
  spec: { containers: [{ name: 'app', image: 'shop/app', ports: [{ name: 'http', containerPort: 8080 }, { name: 'metrics', containerPort: 9090 }] }] },
  status: { phase: 'Running', podIP: ip, podIPs: [{ ip }] },
});

beforeAll(async () => {
  api = await startFakeApiServer();
  api.apply({ apiVersion: 'v1', kind: 'Pod', ...injectPod(app('meshed', '10.1.0.7'), DEFAULT_INJECT_OPTIONS).pod });
  api.apply({ apiVersion: 'v1', kind: 'Pod', ...app('plain', '10.1.0.8') });
});
afterAll(async () => {
  await api?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** The targets Prometheus keeps after relabelling, as promtool prints them (JSON). */
async function discover(): Promise<Obj[]> {
  const config = join(dir, 'prometheus.yml');
  const targetsFile = join(dir, 'pods.json');
  const pods = ['meshed', 'plain'].map((name) => api.get('Pod', name, 'shop')!);
  writeFileSync(targetsFile, JSON.stringify(pods.flatMap(podTargets)));
  writeFileSync(config, kubernetesPodsConfig(targetsFile));
  const { stdout } = await promisify(execFile)(PROMTOOL!, ['check', 'service-discovery', '--timeout=5s', config, 'kubernetes-pods'], { encoding: 'utf8', timeout: 60_000 });
  return (JSON.parse(stdout) as Obj[]).filter((t) => t.labels !== null && Object.keys(t.labels ?? {}).length > 0);
}

describe('a stock kubernetes-pods job on injected pods', () => {
  it.skipIf(!PROMTOOL)('scrapes the injected pod at its sidecar, :15020/metrics over http, and the plain pod where it said', async () => {
    const targets = await discover();
    const of = (pod: string) => [...new Set(targets.filter((t) => t.labels.pod === pod).map((t) => `${t.labels.__scheme__}://${t.labels.__address__}${t.labels.__metrics_path__}`))];
    expect(of('meshed')).toEqual(['http://10.1.0.7:15020/metrics']);
    expect(of('plain')).toEqual(['http://10.1.0.8:9090/stats/prometheus']);
    expect(targets.find((t) => t.labels.pod === 'meshed')!.labels).toMatchObject({ namespace: 'shop', app: 'meshed' });
  }, 60_000);

  it('the app\'s own endpoint goes to the sidecar, which merges it into what it serves on :15020', () => {
    const pod = api.get('Pod', 'meshed', 'shop')!;
    const sidecar = (pod.spec.initContainers as Obj[]).find((c) => c.name === 'ztmesh-sidecar')!;
    const env = Object.fromEntries((sidecar.env as Obj[]).map((e) => [e.name, e.value]));
    expect(env.ZTMESH_METRICS_LISTEN).toBe('0.0.0.0:15020');
    expect(JSON.parse(env.ZTMESH_METRICS_APP)).toEqual({ port: 9090, path: '/stats/prometheus' });
    expect(sidecar.ports).toContainEqual({ name: 'ztm-metrics', containerPort: 15020, protocol: 'TCP' });
  });
});

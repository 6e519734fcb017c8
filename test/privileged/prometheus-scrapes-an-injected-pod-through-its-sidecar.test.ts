// Issue 25's acceptance, end to end: a pod that declares its metrics (prometheus.io/port 9090, /stats/prometheus) is
// injected; a real `ztmesh sidecar` (uid 1337, identity from a real CA) runs in a network namespace whose address is
// the pod IP, with the metrics settings injection gave it, beside the app. A real Prometheus, in another namespace,
// runs the stock `kubernetes-pods` job over the pod role's targets (test/helpers/prometheus-sd.ts), scrapes the
// discovered :15020/metrics over plain HTTP, and stores the sidecar's metrics and the app's, under the pod's labels.
import { spawnSync } from 'node:child_process';
import { chmod, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JoinTokenStore } from '../../src/ca/attestors/join-tokens.js';
import { DEFAULT_INJECT_OPTIONS, injectPod, type PodLike } from '../../src/k8s/inject.js';
import { BIN } from '../helpers/cli.js';
import { createMesh, skipPrivileged, type LineProcess, type Mesh } from '../helpers/netns.js';
import { kubernetesPodsConfig, podTargets } from '../helpers/prometheus-sd.js';
import { untilValue } from '../helpers/until.js';
import { APP_UID, idOf, SIDECAR_UID, startHubCa, TRUST_DOMAIN, type MeshCa } from './scenario.js';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const NO_PROMETHEUS = spawnSync('sh', ['-c', 'command -v prometheus']).status !== 0;
if (NO_PROMETHEUS) console.warn('[privileged] skipping the Prometheus scrape: no prometheus binary (.ci/run installs Debian\'s prometheus)');
const SKIP = skipPrivileged('prometheus-scrapes-an-injected-pod-through-its-sidecar') || NO_PROMETHEUS;

/** The app's own metrics: one of its own, one whose name the sidecar uses too. */
const APP = `require("http").createServer((q, s) => s.end(q.url === "/stats/prometheus"
  ? "# TYPE shop_orders_total counter\\nshop_orders_total{status=\\"paid\\"} 3\\n# TYPE process_open_fds gauge\\nprocess_open_fds 7\\n" : "")).listen(9090)`;

let mesh: Mesh;
let ca: MeshCa;
let prometheus: LineProcess;

/** One PromQL query against the Prometheus in the `prom` namespace. */
async function query(q: string): Promise<Obj[]> {
  const r = await mesh.run('prom', ['curl', '-s', '--get', '--data-urlencode', `query=${q}`, 'http://127.0.0.1:9090/api/v1/query']);
  return (JSON.parse(r.stdout || '{"data":{"result":[]}}') as Obj).data?.result ?? [];
}

beforeAll(async () => {
  if (SKIP) return;
  mesh = await createMesh('prom-scrape', ['pod', 'prom']);
  ca = await startHubCa(mesh);
  const declared: PodLike = {
    metadata: { name: 'shop', namespace: 'shop', labels: { app: 'shop' }, annotations: { 'prometheus.io/scrape': 'true', 'prometheus.io/port': '9090', 'prometheus.io/path': '/stats/prometheus' } },
    spec: { containers: [{ name: 'app', image: 'shop/app', ports: [{ name: 'http', containerPort: 8080 }, { name: 'metrics', containerPort: 9090 }] }] },
  };
  const pod = { ...injectPod(declared, DEFAULT_INJECT_OPTIONS).pod, status: { phase: 'Running', podIP: mesh.addr.pod } } as Obj;
  const env = Object.fromEntries(((pod.spec.initContainers as Obj[]).find((c) => c.name === 'ztmesh-sidecar')!.env as Obj[])
    .filter((e) => e.name.startsWith('ZTMESH_METRICS_')).map((e) => [e.name, e.value as string]));
  expect(env).toEqual({ ZTMESH_METRICS_LISTEN: '0.0.0.0:15020', ZTMESH_METRICS_APP: JSON.stringify({ port: 9090, path: '/stats/prometheus' }) });

  mesh.spawn('pod', [process.execPath, '-e', APP], { uid: APP_UID });
  const tokenFile = join(mesh.tmp, 'shop.token');
  await writeFile(tokenFile, (await new JoinTokenStore(ca.dir).create(idOf('shop'), 600_000, Date.now())).token);
  await chmod(tokenFile, 0o644);
  const sidecar = mesh.spawn('pod', [process.execPath, BIN, 'sidecar', '--trust-domain', TRUST_DOMAIN, '--ca-address', ca.address,
    '--ca-bundle', ca.bundle, '--token-file', tokenFile, '--log-format', 'json'], { uid: SIDECAR_UID, env });
  await sidecar.waitFor(/"event":"rotation"/, 30_000);

  const targets = join(mesh.tmp, 'pods.json');
  await writeFile(targets, JSON.stringify(podTargets(pod)));
  const config = join(mesh.tmp, 'prometheus.yml');
  await writeFile(config, kubernetesPodsConfig(targets, '  scrape_interval: 1s\n  scrape_timeout: 1s'));
  prometheus = mesh.spawn('prom', ['prometheus', `--config.file=${config}`, `--storage.tsdb.path=${join(mesh.tmp, 'tsdb')}`,
    '--web.listen-address=127.0.0.1:9090', '--log.level=warn']);
  // Its query API answers 503 "Service Unavailable" until it is ready: wait for /-/ready before the first query.
  await untilValue(async () => (await mesh.run('prom', ['curl', '-s', '-o', '/dev/null', '-w', '%{http_code}', 'http://127.0.0.1:9090/-/ready'])).stdout,
    (code) => code === '200', 30_000, 200);
}, 90_000);
afterAll(async () => {
  await mesh?.destroy();
});

describe.skipIf(SKIP)('Prometheus scrapes an injected pod through its sidecar', () => {
  it('finds :15020/metrics, scrapes it over plain HTTP, and stores the sidecar\'s and the app\'s metrics with the pod\'s labels', async () => {
    let up: Obj[] = [];
    for (let i = 0; i < 100 && !(up.length && up[0]!.value[1] === '1'); i++) {
      up = await query('up{job="kubernetes-pods"}');
      if (!up.length || up[0]!.value[1] !== '1') await new Promise((r) => setTimeout(r, 200));
    }
    expect(up.map((s) => [s.metric.instance, s.metric.pod, s.metric.namespace, s.value[1]]), prometheus.output()).toEqual([[`${mesh.addr.pod}:15020`, 'shop', 'shop', '1']]);
    const one = async (q: string) => (await query(q)).map((s) => s.value[1]);
    expect(await one('ztmesh_identity_state{pod="shop",state="available"}')).toEqual(['1']);
    expect(await one('ztmesh_app_metrics_up{pod="shop"}')).toEqual(['1']);
    expect(await one('shop_orders_total{pod="shop",status="paid"}')).toEqual(['3']);
    expect(await one('app_process_open_fds{pod="shop"}')).toEqual(['7']);
    expect(await one('scrape_samples_post_metric_relabeling{pod="shop"}')).not.toEqual([]);
  }, 60_000);
});

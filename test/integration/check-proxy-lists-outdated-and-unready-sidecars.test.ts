// `ztmesh check --proxy` (as `linkerd check --proxy`) lists the meshed pods whose sidecar runs another image than the
// control plane injects (after an upgrade, until their workload restarts) and the ones that are not ready; pods
// without the ztmesh.io/meshed label are not its business. Real pods as inject writes them, in the stand-in API server.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_INJECT_OPTIONS, injectPod, type PodLike } from '../../src/k8s/inject.js';
import { runCli } from '../helpers/cli.js';
import { startFakeApiServer, type FakeApiServer } from '../helpers/fake-apiserver.js';
import { installHealthy, writeKubeconfig } from '../helpers/k8s-install.js';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

let api: FakeApiServer;
let kubeconfig: string;

const app = (name: string): PodLike => ({ metadata: { name, namespace: 'shop' }, spec: { containers: [{ name: 'app', image: 'nginx', ports: [{ containerPort: 8080 }] }] } });
function status(sidecarReady: boolean, waiting?: string): Obj {
  return {
    phase: 'Running',
    conditions: [{ type: 'Ready', status: sidecarReady ? 'True' : 'False' }],
    initContainerStatuses: [
      { name: 'ztmesh-init', ready: false, state: { terminated: { exitCode: 0, reason: 'Completed' } } },
      { name: 'ztmesh-sidecar', ready: sidecarReady, started: sidecarReady, state: waiting ? { waiting: { reason: waiting } } : { running: {} } },
    ],
    containerStatuses: [{ name: 'app', ready: sidecarReady, state: { running: {} } }],
  };
}
function store(pod: PodLike, st: Obj): void {
  api.apply({ apiVersion: 'v1', kind: 'Pod', ...pod, status: st });
}

beforeAll(async () => {
  api = await startFakeApiServer();
  await installHealthy(api);
  kubeconfig = writeKubeconfig(api, { admin: { user: { token: api.adminToken } } });
  store(injectPod(app('web-current'), DEFAULT_INJECT_OPTIONS).pod, status(true));
  const old = injectPod(app('web-old'), { ...DEFAULT_INJECT_OPTIONS, image: 'ghcr.io/ztmesh/ztmesh:0.0.9' }).pod;
  old.metadata!.annotations!['ztmesh.io/version'] = '0.0.9';
  store(old, status(true));
  store(injectPod(app('api-stuck'), DEFAULT_INJECT_OPTIONS).pod, status(false, 'CrashLoopBackOff'));
  store(app('plain'), status(false));
});
afterAll(async () => { await api?.close(); });

describe('ztmesh check --proxy', () => {
  it('names the outdated sidecar (warn) and the unready one (fail), and exits 1', async () => {
    const r = await runCli(['check', '--kubeconfig', kubeconfig, '--proxy', '-o', 'json']);
    expect(r.code).toBe(1);
    const proxies = (JSON.parse(r.stdout).checks as Obj[]).filter((c) => c.group === 'Data plane (--proxy)');
    expect(proxies[0]).toMatchObject({ id: 'proxies', status: 'fail', detail: '3 meshed pods: 2 on ghcr.io/ztmesh/ztmesh:0.1.0, 1 other, 1 not ready' });
    const byId = new Map(proxies.slice(1).map((c) => [c.id, c]));
    expect([...byId.keys()].sort()).toEqual(['proxy-ready:shop/api-stuck', 'proxy-version:shop/web-old']);
    const old = byId.get('proxy-version:shop/web-old')!;
    expect(old).toMatchObject({ status: 'warn', detail: 'its sidecar runs ghcr.io/ztmesh/ztmesh:0.0.9 (injected by ztmesh 0.0.9); the control plane injects ghcr.io/ztmesh/ztmesh:0.1.0' });
    expect(old.hint).toContain('rollout restart');
    expect(byId.get('proxy-ready:shop/api-stuck')).toMatchObject({ status: 'fail', detail: 'sidecar not ready (CrashLoopBackOff)' });
  });

  it('the text report shows the same, and without --proxy no pod is looked at', async () => {
    const text = await runCli(['check', '--kubeconfig', kubeconfig, '--proxy']);
    expect(text.stdout).toMatch(/Data plane \(--proxy\)\n {2}✘ meshed pods: 3 meshed pods/);
    expect(text.stdout).toContain('‼ pod shop/web-old: its sidecar runs ghcr.io/ztmesh/ztmesh:0.0.9');
    const before = api.requests.filter((q) => q.path.startsWith('/api/v1/pods')).length;
    const plain = await runCli(['check', '--kubeconfig', kubeconfig]);
    expect(plain.code).toBe(0);
    expect(api.requests.filter((q) => q.path.startsWith('/api/v1/pods')).length).toBe(before);
  });
});

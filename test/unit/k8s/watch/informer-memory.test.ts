// 10,000 pods list in pages of 500 and sync, and the informer keeps only their projections: the heap it retains
// stays under a bound that whole objects would break (both measured here, after forced collections).
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WatchedObject } from '../../../../src/k8s/watch/resource.js';
import { pod, podIp, watchKit, type WatchKit } from '../../../helpers/k8s-watch-kit.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const PODS = 10_000;

let kit: WatchKit;
beforeAll(async () => {
  kit = await watchKit();
  for (let i = 0; i < PODS; i++) {
    const p = pod('big', `web-${i}`, { ip: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, labels: { app: 'web', 'pod-template-hash': '5d9c7b6f4' } });
    p.metadata.annotations = { 'ztmesh.io/status': '{"version":"0.1.0","injected":["ztmesh-init","ztmesh-sidecar"]}' };
    p.spec.containers.push({ name: 'ztmesh-sidecar', image: 'registry.example/ztmesh:0.1.0', env: [{ name: 'ZTMESH_CA', value: 'ztmesh-ca.ztmesh-system.svc:15012' }] });
    // What a running pod's status carries (conditions, container statuses): whole objects are what a cache must not hold.
    p.status.conditions = ['PodReadyToStartContainers', 'Initialized', 'Ready', 'ContainersReady', 'PodScheduled']
      .map((type) => ({ type, status: 'True', lastProbeTime: null, lastTransitionTime: '2026-11-28T10:00:00Z' }));
    p.status.containerStatuses = p.spec.containers.map((c: { name: string; image: string }) => ({
      name: c.name, image: c.image, imageID: `${c.image}@sha256:${'ab'.repeat(32)}`, containerID: `containerd://${'cd'.repeat(32)}`,
      ready: true, restartCount: 0, started: true, state: { running: { startedAt: '2026-11-28T10:00:01Z' } },
    }));
    kit.api.apply(p);
  }
});
afterAll(async () => { await kit?.close(); });

/** Heap bytes the informer `project` builds still retain once synced (the stand-in's own objects are in the baseline). */
async function retained<T>(project: (o: WatchedObject) => T | undefined): Promise<{ bytes: number; size: number; lists: number }> {
  const listsBefore = kit.api.requests.length;
  gc();
  const before = process.memoryUsage().heapUsed;
  const w = kit.watch({ group: '', version: 'v1', plural: 'pods', namespace: 'big' }, project);
  await w.informer.whenSynced();
  gc();
  const bytes = process.memoryUsage().heapUsed - before;
  const lists = kit.api.requests.slice(listsBefore).filter((r) => r.path.includes('limit=500')).length;
  const size = w.informer.cache.size;
  await kit.stopAll();
  return { bytes, size, lists };
}

describe('Informer memory', () => {
  it('keeps 10,000 projected pods in under 4 MB; the whole objects would take several times that', async () => {
    const projected = await retained(podIp);
    expect(projected.size).toBe(PODS);
    expect(projected.lists).toBe(PODS / 500);
    const whole = await retained((o) => o);
    expect(whole.size).toBe(PODS);
    console.log(`retained heap for ${PODS} pods: projected ${(projected.bytes / 1e6).toFixed(1)} MB, whole objects ${(whole.bytes / 1e6).toFixed(1)} MB`);
    expect(projected.bytes).toBeLessThan(4e6);
    expect(whole.bytes).toBeGreaterThan(4 * 4e6);
  });
});

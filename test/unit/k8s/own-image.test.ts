// The webhook's own image: read from its pod's spec for its container, retried with backoff (on the injected clock)
// while the API server refuses or the pod lacks it, never settled on anything else.
import { describe, expect, it } from 'vitest';
import { containerImage, resolveOwnImage } from '../../../src/k8s/own-image.js';
import type { KubeClient, KubeResponse } from '../../../src/k8s/kube-client.js';
import { FakeClock } from '../../helpers/fake-clock.js';
import { captureLogger } from '../../helpers/capture-logger.js';

const POD = { spec: { containers: [{ name: 'sidecar-ish', image: 'other' }, { name: 'webhook', image: 'registry.example/ztmesh:9.9.9' }] } };

describe('containerImage', () => {
  it.each([
    [POD, { image: 'registry.example/ztmesh:9.9.9' }],
    [{ spec: { containers: [{ name: 'other', image: 'x' }] } }, { error: 'the pod has no container named webhook (it has other)' }],
    [{ spec: { containers: [{ name: 'webhook' }] } }, { error: 'container webhook names no image' }],
    [{}, { error: 'the pod has no spec.containers' }],
  ])('%j', (pod, want) => expect(containerImage(pod, 'webhook')).toEqual(want));
});

describe('resolveOwnImage', () => {
  it('retries a refusal with backoff on the clock, then resolves to the container\'s image', async () => {
    const clock = new FakeClock();
    const answers: KubeResponse[] = [{ status: 403, body: {} }, { status: 200, body: { spec: { containers: [] } } }, { status: 200, body: POD }];
    const paths: string[] = [];
    const client = { server: 'https://x', call: async (_m: string, path: string) => { paths.push(path); return answers.shift()!; } } as unknown as KubeClient;
    const log = captureLogger();
    const own = resolveOwnImage({ client, own: { namespace: 'ztmesh-system', pod: 'wh-1', container: 'webhook' }, clock, log: log.logger, random: () => 0.5 });
    let image: string | undefined;
    void own.image.then((i) => { image = i; });
    await expect.poll(() => paths.length).toBe(1);
    expect(image).toBeUndefined();
    await clock.advance(1_000);
    await expect.poll(() => paths.length).toBe(2);
    await clock.advance(2_000);
    await expect.poll(() => image).toBe('registry.example/ztmesh:9.9.9');
    expect(paths).toEqual(Array(3).fill('/api/v1/namespaces/ztmesh-system/pods/wh-1'));
    expect(log.lines.filter((l) => l.code === 'own_image_unavailable').map((l) => l.msg)).toEqual([
      'cannot read the image of its own pod (RBAC: get pods in ztmesh-system): GET /api/v1/namespaces/ztmesh-system/pods/wh-1: HTTP 403',
      'cannot read the image of its own pod (RBAC: get pods in ztmesh-system): the pod has no container named webhook (it has )',
    ]);
  });

  it('stop() ends the retries', async () => {
    const clock = new FakeClock();
    let calls = 0;
    const client = { server: 'https://x', call: async () => { calls++; return { status: 500, body: {} }; } } as unknown as KubeClient;
    const own = resolveOwnImage({ client, own: { namespace: 'n', pod: 'p', container: 'webhook' }, clock, log: captureLogger().logger, random: () => 0.5 });
    await expect.poll(() => calls).toBe(1);
    own.stop();
    await clock.advance(60_000);
    expect(calls).toBe(1);
  });
});

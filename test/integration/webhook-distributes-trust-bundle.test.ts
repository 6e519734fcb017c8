// The webhook copies ConfigMap ztmesh-trust-bundle into each namespace it injects (pods can only mount a
// ConfigMap of their own namespace), updates it on root rotation, and retries on the fake clock after failures.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKubeClient, inClusterConfig } from '../../src/k8s/kube-client.js';
import { BundleDistributor } from '../../src/k8s/bundle-distributor.js';
import { startFakeApiServer, type FakeApiServer } from '../helpers/fake-apiserver.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { captureLogger } from '../helpers/k8s-test-kit.js';

let api: FakeApiServer;
const clock = new FakeClock();
const log = captureLogger();
let d: BundleDistributor;

beforeAll(async () => {
  api = await startFakeApiServer();
  d = new BundleDistributor({
    client: createKubeClient(inClusterConfig({}, { server: api.url, caFile: api.caFile, tokenFile: api.tokenFile, serverName: api.serverName })),
    clock, log: log.logger, random: () => 0.5,
  });
});
afterAll(async () => {
  d.stop();
  await api.close();
});

const roots = (ns: string) => api.configMaps.get(`${ns}/ztmesh-trust-bundle`)?.data?.['roots.pem'];
const writes = () => api.requests.filter((r) => r.method !== 'GET').length;

describe('trust bundle distribution', () => {
  it('creates the ConfigMap in an injected namespace, labelled as managed by the webhook', async () => {
    await d.setRoots('ROOTS-1');
    await d.ensure('shop');
    expect(roots('shop')).toBe('ROOTS-1');
    expect(api.configMaps.get('shop/ztmesh-trust-bundle').metadata.labels['app.kubernetes.io/managed-by']).toBe('ztmesh-webhook');
  });

  it('does nothing more for the next pods of the same namespace', async () => {
    const before = api.requests.length;
    await d.ensure('shop');
    await d.ensure('shop');
    expect(api.requests.length).toBe(before);
  });

  it('on root rotation, updates every namespace it knows (merge patch)', async () => {
    await d.ensure('billing');
    await d.setRoots('ROOTS-1\nROOTS-2');
    expect(roots('shop')).toBe('ROOTS-1\nROOTS-2');
    expect(roots('billing')).toBe('ROOTS-1\nROOTS-2');
    expect(api.requests.filter((r) => r.method === 'PATCH').every((r) => r.contentType === 'application/merge-patch+json')).toBe(true);
  });

  it('retries with backoff on the fake clock when the API server fails', async () => {
    api.mode = 'http-500';
    await d.ensure('ops');
    expect(log.lines.find((l) => l.code === 'bundle_distribution_failed')).toMatchObject({ namespace: 'ops' });
    expect(roots('ops')).toBeUndefined();
    api.mode = 'normal';
    const before = writes();
    await clock.advance(1_000);
    await expect.poll(() => roots('ops')).toBe('ROOTS-1\nROOTS-2');
    expect(writes()).toBe(before + 1);
  });
});

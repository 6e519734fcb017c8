// The webhook copies ConfigMap ztmesh-trust-bundle into each meshed namespace, as its watches of Namespaces and Pods
// through the API server say (labelled enabled, or holding a pod labelled ztmesh.io/inject=true and not disabled);
// updates them on root rotation; drops a namespace that leaves the mesh; and retries each failing namespace on its
// own backoff (the fake clock), without touching the others. It runs as the webhook's ServiceAccount, whose RBAC here
// lets it write ConfigMaps only where a RoleBinding allows, so one namespace can be made to fail.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BundleDistributor } from '../../src/k8s/bundle-distributor.js';
import { startFakeApiServer, type FakeApiServer } from '../helpers/fake-apiserver.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { captureLogger } from '../helpers/k8s-test-kit.js';
import { applyWebhookRbac, configMapRequestsTo, namespace, rootsIn, startDistributor, writerBinding } from '../helpers/bundle-distribution.js';

let api: FakeApiServer;
const clock = new FakeClock();
const log = captureLogger();
let d: BundleDistributor;

const pod = (ns: string, name: string, labelled: boolean) => ({
  apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: ns, ...(labelled ? { labels: { 'ztmesh.io/inject': 'true' } } : {}) }, spec: { containers: [{ name: 'app', image: 'app:1' }] },
});
const roots = (ns: string) => rootsIn(api, ns);
const requestsTo = (ns: string) => configMapRequestsTo(api, ns);

beforeAll(async () => {
  api = await startFakeApiServer();
  applyWebhookRbac(api);
  for (const ns of ['shop', 'billing']) api.apply(writerBinding(ns));
  api.apply(namespace('shop', 'enabled'));
  api.apply(namespace('ops', 'enabled'));
  api.apply(namespace('billing'));
  api.apply(namespace('quiet', 'disabled'));
  api.apply(namespace('other'));
  api.apply(pod('billing', 'one', true));
  api.apply(pod('quiet', 'one', true));
  api.apply(pod('other', 'one', false));
  d = await startDistributor(api, 'ROOTS-1', { clock, log: log.logger, random: () => 0.5 });
});
afterAll(async () => {
  await d?.stop();
  await api?.close();
});

describe('trust bundle distribution from watches', () => {
  it('writes the ConfigMap where the API server says pods are meshed, labelled as managed by the webhook', async () => {
    await expect.poll(() => [roots('shop'), roots('billing')]).toEqual(['ROOTS-1', 'ROOTS-1']);
    expect(api.configMaps.get('shop/ztmesh-trust-bundle').metadata.labels['app.kubernetes.io/managed-by']).toBe('ztmesh-webhook');
    expect(d.meshedNamespaces().sort()).toEqual(['billing', 'ops', 'shop']);
    for (const ns of ['quiet', 'other']) expect(requestsTo(ns)).toBe(0);
  });

  it('retries a namespace it may not write on that namespace\'s own backoff, and the others see no request', async () => {
    await expect.poll(() => log.lines.find((l) => l.code === 'bundle_distribution_failed')).toMatchObject({ namespace: 'ops' });
    const before = { ops: requestsTo('ops'), shop: requestsTo('shop'), billing: requestsTo('billing') };
    expect(clock.pendingTimers()).toContain(1_000);
    await clock.advance(1_000);
    await expect.poll(() => requestsTo('ops')).toBe(before.ops + 1);
    expect([requestsTo('shop'), requestsTo('billing')]).toEqual([before.shop, before.billing]);
    api.apply(writerBinding('ops'));
    await clock.advance(2_000);
    await expect.poll(() => roots('ops')).toBe('ROOTS-1');
  });

  it('on root rotation, updates every meshed namespace (merge patch)', async () => {
    d.setRoots('ROOTS-2');
    await expect.poll(() => ['shop', 'billing', 'ops'].map(roots)).toEqual(['ROOTS-2', 'ROOTS-2', 'ROOTS-2']);
    expect(api.requests.filter((r) => r.method === 'PATCH').every((r) => r.contentType === 'application/merge-patch+json')).toBe(true);
  });

  it('follows the watches: a namespace labelled later joins, one unlabelled or emptied of labelled pods leaves', async () => {
    api.apply(writerBinding('late'));
    api.apply(namespace('late', 'enabled'));
    await expect.poll(() => roots('late')).toBe('ROOTS-2');
    api.apply(namespace('ops'));
    api.remove('Pod', 'one', 'billing');
    await expect.poll(() => d.meshedNamespaces().sort()).toEqual(['late', 'shop']);
    d.setRoots('ROOTS-3');
    await expect.poll(() => ['shop', 'late'].map(roots)).toEqual(['ROOTS-3', 'ROOTS-3']);
    expect([roots('ops'), roots('billing')]).toEqual(['ROOTS-2', 'ROOTS-2']);
  });
});

// The informer against the stand-in API server over real HTTPS: a paged list, then watch events to the handlers;
// a dropped watch resumes from the last resourceVersion seen (bookmarks included) without repeating or losing an
// event; 410 Gone (event or HTTP status) relists and reports what was deleted meanwhile; RBAC refusals name the verb
// and resource; malformed lines are skipped and logged; backoff runs on the fake clock.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Readiness } from '../../../../src/common/readiness.js';
import type { WatchedObject } from '../../../../src/k8s/watch/resource.js';
import { until } from '../../../helpers/until.js';
import { pod, podIp, watchKit, type WatchKit } from '../../../helpers/k8s-watch-kit.js';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

let kit: WatchKit;
beforeAll(async () => { kit = await watchKit(); });
afterEach(async () => { await kit.stopAll(); });
afterAll(async () => { await kit?.close(); });

const PODS = { group: '', version: 'v1', plural: 'pods' };
const requestsTo = (path: string) => kit.api.requests.filter((r) => r.path.startsWith(path));
const watchRequests = (path: string) => requestsTo(path).filter((r) => /[?&]watch=1/.test(r.path));
const rvOf = (path: string) => new URL(path, 'https://x').searchParams.get('resourceVersion');

describe('Informer', () => {
  it('lists every object in pages, then delivers ADDED, MODIFIED and DELETED to the handlers', async () => {
    for (let i = 0; i < 250; i++) kit.api.apply(pod('list', `p${String(i).padStart(3, '0')}`, { ip: `10.1.${i >> 8}.${i & 255}` }));
    kit.api.apply(pod('list', 'pending', { phase: 'Pending' }));
    const w = kit.watch({ ...PODS, namespace: 'list' }, podIp, { pageSize: 100 });
    await w.informer.whenSynced();
    const lists = requestsTo('/api/v1/namespaces/list/pods?limit=100');
    expect(lists).toHaveLength(3);
    expect(lists.filter((r) => r.path.includes('continue='))).toHaveLength(2);
    expect(w.informer.cache.size).toBe(250);
    expect(w.informer.cache.get('list/p007')).toBe('10.1.0.7');
    expect(w.informer.cache.get('list/pending')).toBeUndefined();
    expect(w.syncs).toEqual([{ relist: 0, objects: 250, added: 250, updated: 0, removed: [] }]);

    await until(() => kit.api.openWatches === 1);
    const [watch] = watchRequests('/api/v1/namespaces/list/pods');
    expect(rvOf(watch!.path)).toBe(w.informer.status().resourceVersion);
    expect(watch!.path).toContain('allowWatchBookmarks=true');
    w.calls.length = 0;
    kit.api.apply(pod('list', 'new', { ip: '10.2.0.1' }));
    kit.api.apply(pod('list', 'p001', { ip: '10.2.0.2' }));
    kit.api.apply({ ...pod('list', 'p002', { ip: '10.1.0.2' }), metadata: { name: 'p002', namespace: 'list', labels: { changed: 'yes' } } });
    kit.api.apply(pod('list', 'pending', { ip: '10.2.0.3' }));
    kit.api.remove('Pod', 'p003', 'list');
    kit.api.apply(pod('list', 'p004', { phase: 'Succeeded', ip: '10.1.0.4' }));
    await until(() => w.calls.length === 5);
    // p002's projection did not change: no call for it.
    expect(w.calls).toEqual([['added', 'list/new'], ['updated', 'list/p001'], ['added', 'list/pending'], ['deleted', 'list/p003'], ['deleted', 'list/p004']]);
    expect(w.informer.cache.get('list/p001')).toBe('10.2.0.2');
    expect(w.informer.status()).toMatchObject({ synced: true, watching: true, objects: 250, relists: 0, watchRestarts: 0, malformedSkipped: 0, resourceVersion: kit.api.revision });
  });

  it('resumes a dropped watch from the last resourceVersion seen, bookmarks included, and neither repeats nor loses an event', async () => {
    for (const name of ['a', 'b', 'c']) kit.api.apply(pod('resume', name, { ip: `10.3.0.${name.charCodeAt(0)}` }));
    const w = kit.watch({ ...PODS, namespace: 'resume' }, podIp);
    await w.informer.whenSynced();
    await until(() => kit.api.openWatches === 1);
    kit.api.apply(pod('resume', 'd', { ip: '10.3.0.4' }));
    await until(() => w.informer.cache.size === 4);
    // Changes elsewhere move the revision on; only a bookmark tells this watch.
    kit.api.apply(pod('elsewhere', 'x'));
    kit.api.sendBookmarks();
    await until(() => w.informer.status().resourceVersion === kit.api.revision);
    const bookmarked = kit.api.revision;
    const listsBefore = requestsTo('/api/v1/namespaces/resume/pods?limit').length;

    expect(kit.api.dropWatches()).toBe(1);
    await until(() => kit.sleeping());
    expect(w.informer.status().watching).toBe(false);
    kit.api.apply(pod('resume', 'e', { ip: '10.3.0.5' }));
    kit.api.apply(pod('resume', 'a', { ip: '10.3.9.9' }));
    kit.api.remove('Pod', 'b', 'resume');
    w.calls.length = 0;
    await kit.clock.advance(1_000);
    await until(() => w.calls.length === 3);

    const watches = watchRequests('/api/v1/namespaces/resume/pods');
    expect(watches).toHaveLength(2);
    expect(rvOf(watches[1]!.path)).toBe(bookmarked);
    expect(requestsTo('/api/v1/namespaces/resume/pods?limit')).toHaveLength(listsBefore);
    expect(w.calls).toEqual([['added', 'resume/e'], ['updated', 'resume/a'], ['deleted', 'resume/b']]);
    expect([...w.mirror.entries()].sort()).toEqual([...w.informer.cache.entries()].sort());
    expect(w.informer.status()).toMatchObject({ relists: 0, watchRestarts: 1, lastError: { code: 'kube_unreachable' } });
  });

  it.each(['event', 'http'] as const)('relists on 410 Gone (as %s) and reports what was deleted meanwhile', async (goneAs) => {
    const ns = `gone-${goneAs}`;
    for (const name of ['x', 'y', 'z']) kit.api.apply(pod(ns, name, { ip: `10.4.0.${name.charCodeAt(0)}` }));
    const w = kit.watch({ ...PODS, namespace: ns }, podIp);
    await w.informer.whenSynced();
    await until(() => kit.api.openWatches === 1);
    kit.api.goneAs = goneAs;
    kit.api.dropWatches();
    await until(() => kit.sleeping());
    kit.api.remove('Pod', 'x', ns);
    kit.api.apply(pod(ns, 'y', { ip: '10.4.1.1' }));
    kit.api.apply(pod(ns, 'new', { ip: '10.4.1.2' }));
    kit.api.compact();
    w.calls.length = 0;
    try {
      // The watch from the old resourceVersion is refused with 410, and the relist follows at once.
      await kit.clock.advance(1_000);
      await until(() => w.syncs.length === 2);
    } finally {
      kit.api.goneAs = 'event';
    }
    expect(w.syncs[1]).toEqual({ relist: 1, objects: 3, added: 1, updated: 1, removed: [`${ns}/x`] });
    expect(w.calls).toEqual([['deleted', `${ns}/x`], ['added', `${ns}/new`], ['updated', `${ns}/y`]]);
    expect([...w.mirror.keys()].sort()).toEqual([`${ns}/new`, `${ns}/y`, `${ns}/z`]);
    expect(w.informer.status()).toMatchObject({ relists: 1, synced: true });
    // And it watches again from the new list.
    await until(() => kit.api.openWatches === 1);
    kit.api.apply(pod(ns, 'after', { ip: '10.4.2.1' }));
    await until(() => w.mirror.has(`${ns}/after`));
  });

  it('names the verb and resource RBAC refuses, keeps retrying with backoff, and syncs once the rights are granted', async () => {
    const sa = 'system:serviceaccount:ztmesh-system:ztmesh-ca';
    const { client, token } = kit.clientAs(sa, ['system:serviceaccounts']);
    kit.api.apply(pod('rbac', 'one', { ip: '10.5.0.1' }));
    const readiness = new Readiness();
    const w = kit.watch({ ...PODS, namespace: 'rbac' }, podIp, { client });
    w.informer.readyOnFirstSync(readiness, 'watch pods');
    await until(() => kit.sleeping());
    expect(w.informer.status()).toMatchObject({ synced: false, lastError: { code: 'kube_forbidden' } });
    expect(w.informer.status().lastError!.message).toContain('cannot list pods in namespace rbac: forbidden; grant verb "list" on resource "pods" in API group ""');
    expect(readiness.report()).toEqual({ ready: false, pending: ['watch pods'] });
    expect(kit.clock.pendingTimers().filter((ms) => ms <= 60_000)).toEqual([1_000]);
    await kit.clock.advance(1_000);
    await until(() => kit.sleeping());
    expect(kit.clock.pendingTimers().filter((ms) => ms <= 60_000)).toEqual([2_000]);

    // Granted list but not watch: it syncs (and is ready) but says it cannot watch.
    kit.api.apply({ apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name: 'pods', namespace: 'rbac' }, rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['list'] }] });
    kit.api.apply({
      apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: { name: 'ca-pods', namespace: 'rbac' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'pods' }, subjects: [{ kind: 'ServiceAccount', name: 'ztmesh-ca', namespace: 'ztmesh-system' }],
    });
    await kit.clock.advance(2_000);
    await w.informer.whenSynced();
    await until(() => kit.sleeping());
    expect(readiness.isReady()).toBe(true);
    expect(w.informer.cache.get('rbac/one')).toBe('10.5.0.1');
    expect(w.informer.status().lastError).toMatchObject({ code: 'kube_forbidden', message: expect.stringContaining('cannot watch pods in namespace rbac: forbidden; grant verb "watch"') });

    kit.api.apply({ apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name: 'pods', namespace: 'rbac' }, rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['list', 'watch'] }] });
    await kit.clock.advance(60_000);
    await until(() => kit.api.openWatches === 1);
    kit.api.apply(pod('rbac', 'two', { ip: '10.5.0.2' }));
    await until(() => w.informer.cache.size === 2);
    const logged = kit.log.lines.filter((l) => l.code === 'kube_forbidden');
    expect(logged.length).toBeGreaterThanOrEqual(3);
    expect(kit.log.text()).not.toContain(token);
    expect(JSON.stringify(w.informer.status())).not.toContain(token);
  });

  it('skips and logs malformed lines and objects a projection cannot read, and goes on watching', async () => {
    const w = kit.watch({ ...PODS, namespace: 'bad' }, (o: WatchedObject) => {
      if ((o.metadata.labels ?? {}).broken) throw new Error('spec.containers: not a list');
      return podIp(o);
    });
    await w.informer.whenSynced();
    await until(() => kit.api.openWatches === 1);
    const before = kit.log.lines.length;
    kit.api.injectWatchLine('this is not JSON');
    kit.api.injectWatchLine(JSON.stringify({ type: 'ADDED', object: { kind: 'Pod' } }));
    kit.api.injectWatchLine(JSON.stringify({ type: 'EXPLODED', object: {} }));
    kit.api.injectWatchLine('x'.repeat(4 * 1024 * 1024 + 1));
    kit.api.apply(pod('bad', 'broken', { ip: '10.6.0.1', labels: { broken: 'yes' } }));
    kit.api.apply(pod('bad', 'fine', { ip: '10.6.0.2' }));
    await until(() => w.informer.cache.size === 1);
    expect(w.calls).toEqual([['added', 'bad/fine']]);
    expect(w.informer.status()).toMatchObject({ malformedSkipped: 5, watching: true, watchRestarts: 0, lastError: { code: 'kube_malformed' } });
    const reasons = kit.log.lines.slice(before).filter((l) => l.code === 'kube_malformed').map((l) => String(l.err));
    expect(reasons).toEqual([
      'watch pods in namespace bad: skipped an event line: not JSON',
      'watch pods in namespace bad: skipped an event line: ADDED event: object has no metadata',
      'watch pods in namespace bad: skipped an event line: unknown event type "EXPLODED"',
      `watch pods in namespace bad: skipped an event line longer than ${4 * 1024 * 1024} bytes`,
      'watch pods in namespace bad: skipped object bad/broken: spec.containers: not a list',
    ]);
  });

  it('watches a namespaced custom resource with a label selector; an object leaving the selector is deleted', async () => {
    kit.api.defineResource({ group: 'ztmesh.io', version: 'v1alpha1', resource: 'authorizationpolicies', kind: 'AuthorizationPolicy', namespaced: true });
    const policy = (name: string, ns: string, tier: string, action = 'ALLOW') => ({
      apiVersion: 'ztmesh.io/v1alpha1', kind: 'AuthorizationPolicy', metadata: { name, namespace: ns, labels: { tier } }, spec: { action },
    });
    kit.api.apply(policy('db-from-api', 'shop', 'prod'));
    kit.api.apply(policy('other-ns', 'ops', 'prod'));
    kit.api.apply(policy('staging', 'shop', 'staging'));
    const w = kit.watch({ group: 'ztmesh.io', version: 'v1alpha1', plural: 'authorizationpolicies', namespace: 'shop', labelSelector: 'tier=prod' },
      (o) => (o as Obj).spec.action as string);
    await w.informer.whenSynced();
    expect([...w.informer.cache.entries()]).toEqual([['shop/db-from-api', 'ALLOW']]);
    expect(requestsTo('/apis/ztmesh.io/v1alpha1/namespaces/shop/authorizationpolicies?limit=500&labelSelector=tier%3Dprod')).toHaveLength(1);
    await until(() => kit.api.openWatches === 1);
    w.calls.length = 0;
    kit.api.apply(policy('db-from-api', 'shop', 'prod', 'DENY'));
    kit.api.apply(policy('staging', 'shop', 'prod'));
    kit.api.apply(policy('db-from-api', 'shop', 'retired', 'DENY'));
    await until(() => w.calls.length === 3);
    expect(w.calls).toEqual([['updated', 'shop/db-from-api'], ['added', 'shop/staging'], ['deleted', 'shop/db-from-api']]);
  });

  it('watches cluster-scoped Namespaces and grouped EndpointSlices of every namespace', async () => {
    kit.api.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'meshed', labels: { 'ztmesh.io/inject': 'enabled' } } });
    kit.api.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'plain' } });
    const ns = kit.watch({ group: '', version: 'v1', plural: 'namespaces', labelSelector: 'ztmesh.io/inject=enabled' }, () => true);
    const slice = (name: string, namespace: string, ips: string[]) => ({
      apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name, namespace, labels: { 'kubernetes.io/service-name': name.split('-')[0] } },
      addressType: 'IPv4', endpoints: ips.map((ip) => ({ addresses: [ip], conditions: { ready: true } })), ports: [{ port: 8080, protocol: 'TCP' }],
    });
    kit.api.apply(slice('api-abc', 'shop', ['10.7.0.1']));
    const eps = kit.watch({ group: 'discovery.k8s.io', version: 'v1', plural: 'endpointslices' },
      (o) => ((o as Obj).endpoints as Obj[]).flatMap((e) => e.addresses as string[]));
    await Promise.all([ns.informer.whenSynced(), eps.informer.whenSynced()]);
    expect([...ns.informer.cache.entries()]).toEqual([['meshed', true]]);
    expect(eps.informer.cache.get('shop/api-abc')).toEqual(['10.7.0.1']);
    await until(() => kit.api.openWatches === 2);
    ns.calls.length = 0;
    eps.calls.length = 0;
    kit.api.apply(slice('api-abc', 'shop', ['10.7.0.1', '10.7.0.2']));
    kit.api.apply(slice('db-xyz', 'data', ['10.7.1.1']));
    kit.api.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'plain', labels: { 'ztmesh.io/inject': 'enabled' } } });
    await until(() => eps.calls.length === 2 && ns.calls.length === 1);
    expect(eps.informer.cache.get('shop/api-abc')).toEqual(['10.7.0.1', '10.7.0.2']);
    expect(eps.informer.cache.get('data/db-xyz')).toEqual(['10.7.1.1']);
    expect(ns.calls).toEqual([['added', 'plain']]);
  });

  it('retries an unreachable API server with growing, capped backoff on the clock, and stops cleanly', async () => {
    const { createKubeClient, inClusterConfig } = await import('../../../../src/k8s/kube-client.js');
    const client = createKubeClient(inClusterConfig({}, { server: 'https://127.0.0.1:1', caFile: kit.api.caFile, tokenFile: kit.api.tokenFile, timeoutMs: 1_000 }));
    const w = kit.watch(PODS, podIp, { client, backoff: { initialMs: 1_000, multiplier: 2, maxMs: 4_000, jitter: 0.2 } });
    const delays: number[] = [];
    for (let i = 0; i < 4; i++) {
      await until(() => kit.sleeping());
      const [next] = kit.clock.pendingTimers();
      delays.push(next!);
      await kit.clock.advance(next!);
    }
    expect(delays).toEqual([1_000, 2_000, 4_000, 4_000]);
    expect(w.informer.status()).toMatchObject({ synced: false, lastError: { code: 'kube_unreachable' } });
    await w.informer.stop();
    expect(kit.clock.pendingTimers()).toEqual([]);
  });
});

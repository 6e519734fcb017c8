// An informer following Pods in every namespace, authenticated through a kubeconfig (client-node's KubeConfig), while
// pods are created, changed and deleted at random, watches are cut, bookmarks come and go and the history is
// compacted while the watch is down: at the end its cache, and the state its handler calls alone build, are exactly
// the projection of what the API server holds. Resumes and relists both happened on the way.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kubeconfigClient } from '../../src/k8s/kubeconfig-client.js';
import { writeKubeconfig } from '../helpers/k8s-install.js';
import { pod, podIp, watchKit, type WatchKit } from '../helpers/k8s-watch-kit.js';
import { until } from '../helpers/until.js';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

let kit: WatchKit;
beforeAll(async () => { kit = await watchKit(); });
afterAll(async () => { await kit?.close(); });

/** A small seeded generator, so that a failure replays. */
function prng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('a Kubernetes watch through churn, dropped connections and compaction', () => {
  it('ends with exactly the API server state, in its cache and in what its handlers were told', async () => {
    const random = prng(20261128);
    const names = Array.from({ length: 40 }, (_, i) => [`ns-${i % 3}`, `pod-${i}`] as const);
    const churn = (n: number) => {
      for (let i = 0; i < n; i++) {
        const [ns, name] = names[Math.floor(random() * names.length)]!;
        const exists = kit.api.get('Pod', name, ns) !== undefined;
        const r = random();
        if (exists && r < 0.3) kit.api.remove('Pod', name, ns);
        else kit.api.apply(pod(ns, name, { ip: `10.9.${Math.floor(random() * 4)}.${name.slice(4)}`, phase: r < 0.85 ? 'Running' : 'Pending' }));
      }
    };
    churn(60);
    const kubeconfig = writeKubeconfig(kit.api, { admin: { user: { token: kit.api.adminToken } } });
    const { client } = kubeconfigClient({ file: kubeconfig });
    const w = kit.watch({ group: '', version: 'v1', plural: 'pods' }, podIp, { client, pageSize: 7 });
    await w.informer.whenSynced();

    for (let round = 0; round < 6; round++) {
      await until(() => kit.api.openWatches === 1);
      churn(25);
      if (round % 2 === 0) kit.api.sendBookmarks();
      await until(() => w.informer.status().resourceVersion === kit.api.revision);
      kit.api.dropWatches();
      await until(() => kit.sleeping());
      churn(15);
      // Every third outage outlives the history: the watch gets 410 and relists.
      if (round % 3 === 2) kit.api.compact();
      await kit.clock.advance(1_000);
    }
    await until(() => kit.api.openWatches === 1);
    churn(20);
    await until(() => w.informer.status().resourceVersion === kit.api.revision);

    const listed = (await kit.client.call('GET', '/api/v1/pods')).body as { items: Obj[] };
    const expected = listed.items.flatMap((o) => {
      const ip = podIp(o as never);
      return ip === undefined ? [] : [[`${o.metadata.namespace}/${o.metadata.name}`, ip] as [string, string]];
    }).sort();
    expect(expected.length).toBeGreaterThan(10);
    expect([...w.informer.cache.entries()].sort()).toEqual(expected);
    expect([...w.mirror.entries()].sort()).toEqual(expected);
    const status = w.informer.status();
    // 6 resumes, plus the 2 watches refused with 410 before their relists.
    expect(status).toMatchObject({ synced: true, watching: true, relists: 2, watchRestarts: 8, malformedSkipped: 0 });
    // A resumed watch starts where the last one left off, never at 0 (which would replay everything as ADDED).
    const watchRvs = kit.api.requests.filter((r) => r.path.startsWith('/api/v1/pods?') && r.path.includes('watch=1'))
      .map((r) => new URL(r.path, 'https://x').searchParams.get('resourceVersion'));
    expect(watchRvs).toHaveLength(9);
    expect(watchRvs.every((rv) => rv !== null && rv !== '0')).toBe(true);
  });
});

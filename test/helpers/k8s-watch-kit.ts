// Shared set-up for tests of Kubernetes watches: the stand-in API server, a fake clock, a captured logger, in-cluster
// clients (the admin's, or a user's with only the RBAC the test grants), and informers whose handler calls are
// recorded and replayed into a mirror map, so a test can see that no event was lost or repeated.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createKubeClient, inClusterConfig, type KubeClient } from '../../src/k8s/kube-client.js';
import { Informer, type InformerOptions, type SyncReport } from '../../src/k8s/watch/informer.js';
import type { ResourceRef, WatchedObject } from '../../src/k8s/watch/resource.js';
import { captureLogger } from './capture-logger.js';
import { startFakeApiServer, type FakeApiServer } from './fake-apiserver.js';
import { FakeClock } from './fake-clock.js';
import { until } from './until.js';
import { tempDir } from './temp-dir.js';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** An informer plus everything its handlers were told. */
export interface RecordedInformer<T> {
  informer: Informer<T>;
  /** ['added'|'updated'|'deleted', key] in order. */
  calls: Array<[string, string]>;
  /** The state the handler calls alone build. */
  mirror: Map<string, T>;
  syncs: SyncReport[];
}

export interface WatchKit {
  api: FakeApiServer;
  clock: FakeClock;
  log: ReturnType<typeof captureLogger>;
  /** The admin's in-cluster client. */
  client: KubeClient;
  /** An in-cluster client authenticating as `username` (a ServiceAccount's full name), with only what RBAC grants. */
  clientAs(username: string, groups?: string[]): { client: KubeClient; token: string };
  /** Starts an informer (random fixed at 0.5, so backoff delays are exact: 1000, 2000, 4000 ms...). */
  watch<T>(resource: ResourceRef, project: (o: WatchedObject) => T | undefined, opts?: Partial<InformerOptions<T>>): RecordedInformer<T>;
  /** The informer is waiting on the clock (a backoff), not on the network. */
  sleeping(): boolean;
  /** Stops every informer started here. */
  stopAll(): Promise<void>;
  close(): Promise<void>;
}

/** One stand-in API server and clock for a test file. */
export async function watchKit(): Promise<WatchKit> {
  const clock = new FakeClock();
  const api = await startFakeApiServer({ now: () => clock.now() });
  const log = captureLogger();
  const dir = tempDir('ztmesh-watch-kit-');
  const clientFor = (tokenFile: string) =>
    createKubeClient(inClusterConfig({}, { server: api.url, caFile: api.caFile, tokenFile, serverName: api.serverName, timeoutMs: 5_000 }));
  const started: Array<Informer<unknown>> = [];
  let n = 0;
  const kit: WatchKit = {
    api, clock, log,
    client: clientFor(api.tokenFile),
    clientAs(username, groups = []) {
      const token = api.addApiUser(username, groups);
      const file = join(dir, `token-${n++}`);
      writeFileSync(file, token, { mode: 0o600 });
      return { client: clientFor(file), token };
    },
    watch<T>(resource: ResourceRef, project: (o: WatchedObject) => T | undefined, opts: Partial<InformerOptions<T>> = {}) {
      const calls: Array<[string, string]> = [];
      const mirror = new Map<string, T>();
      const syncs: SyncReport[] = [];
      const informer = new Informer<T>({
        client: kit.client, resource, project, clock, log: log.logger, random: () => 0.5,
        handlers: {
          added: (k, v) => { calls.push(['added', k]); mirror.set(k, v); },
          updated: (k, v) => { calls.push(['updated', k]); mirror.set(k, v); },
          deleted: (k) => { calls.push(['deleted', k]); mirror.delete(k); },
          synced: (r) => { syncs.push(r); },
        },
        ...opts,
      });
      informer.start();
      started.push(informer as Informer<unknown>);
      return { informer, calls, mirror, syncs };
    },
    sleeping: () => clock.pendingTimers().some((ms) => ms <= 60_000),
    async stopAll() {
      await Promise.all(started.splice(0).map((i) => i.stop()));
      await until(() => api.openWatches === 0);
    },
    async close() {
      await kit.stopAll();
      await api.close();
    },
  };
  return kit;
}

/** A Pod as the API would store it: IP and phase in status, labels as given. */
export function pod(namespace: string, name: string, o: { ip?: string; phase?: string; labels?: Record<string, string> } = {}): Obj {
  return {
    apiVersion: 'v1', kind: 'Pod',
    metadata: { name, namespace, labels: o.labels ?? { app: name } },
    spec: { containers: [{ name: 'app', image: 'registry.example/app:1' }], serviceAccountName: 'default' },
    status: { phase: o.phase ?? 'Running', ...(o.ip ? { podIP: o.ip, podIPs: [{ ip: o.ip }] } : {}) },
  };
}

/** What most tests keep of a pod: its IP, when it runs. */
export const podIp = (o: WatchedObject): string | undefined => {
  const s = (o as Obj).status;
  return s?.phase === 'Running' && typeof s.podIP === 'string' ? s.podIP : undefined;
};

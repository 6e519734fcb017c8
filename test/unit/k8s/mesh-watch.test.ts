// The CA's Kubernetes membership feed over the stand-in API server (real lists and watches): nothing is served before
// all three collections listed; a pod's IP, a pod turning ready, a half-meshed Service and a pod going away change
// membership; a watch cut while objects change and a 410 Gone relist converge on exactly the server's state.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MembershipKind } from '../../../src/ca/mesh/membership-kind.js';
import { MeshWatch } from '../../../src/k8s/mesh-watch.js';
import { until } from '../../helpers/until.js';
import { watchKit, type WatchKit } from '../../helpers/k8s-watch-kit.js';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const TD = 'cluster.local';
const API_ID = `spiffe://${TD}/ns/shop/sa/api`;

const pod = (name: string, ip: string | undefined, o: { meshed?: boolean; ready?: boolean; sa?: string } = {}): Obj => ({
  apiVersion: 'v1', kind: 'Pod',
  metadata: { name, namespace: 'shop', labels: { app: 'api', ...(o.meshed === false ? {} : { 'ztmesh.io/meshed': 'true' }) } },
  spec: { serviceAccountName: o.sa ?? 'api', containers: [{ name: 'app', image: 'x' }] },
  status: { phase: ip ? 'Running' : 'Pending', ...(ip ? { podIP: ip, podIPs: [{ ip }] } : {}), conditions: [{ type: 'Ready', status: o.ready ? 'True' : 'False' }] },
});
const service = (name: string, ip: string): Obj => ({
  apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'shop' }, spec: { clusterIP: ip, clusterIPs: [ip], ports: [{ port: 80, protocol: 'TCP' }] },
});
const slice = (svc: string, endpoints: { ip: string; ready: boolean }[]): Obj => ({
  apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', addressType: 'IPv4',
  metadata: { name: `${svc}-abc`, namespace: 'shop', labels: { 'kubernetes.io/service-name': svc } },
  endpoints: endpoints.map((e) => ({ addresses: [e.ip], conditions: { ready: e.ready } })),
});

let kit: WatchKit;
let membership: MembershipKind;
let feed: MeshWatch;
const keys = () => [...membership.set.keys()].sort();

describe('MeshWatch', () => {
  beforeAll(async () => {
    kit = await watchKit();
    kit.api.apply(service('api', '10.96.0.10'));
    kit.api.apply(slice('api', [{ ip: '10.0.0.7', ready: false }]));
    kit.api.apply(pod('api-1', undefined));
    kit.api.apply(pod('legacy', '10.0.0.50', { meshed: false }));
    membership = new MembershipKind('t', { awaitFeed: true });
    feed = new MeshWatch({ client: kit.client, trustDomain: TD, clock: kit.clock, log: kit.log.logger });
    expect(membership.next(undefined, undefined)).toBeUndefined();
    feed.start(membership);
    await until(() => membership.served, 10_000);
  });
  afterAll(async () => {
    await feed?.close();
    await kit?.close();
  });

  it('serves nothing before the first lists, then what they hold', () => {
    expect(keys()).toEqual([]);
    expect(membership.next(undefined, undefined)).toMatchObject({ kind: 'membership', base: '' });
  });

  it('a pod is meshed once it has an IP; its Service once the endpoint turns ready', async () => {
    kit.api.apply(pod('api-1', '10.0.0.7'));
    await until(() => keys().includes('pod/shop/api-1'));
    expect(membership.set.get('pod/shop/api-1')).toEqual({ key: 'pod/shop/api-1', cidrs: ['10.0.0.7/32'], ports: [], identities: [API_ID] });
    expect(keys()).not.toContain('svc/shop/api');
    kit.api.apply(pod('api-1', '10.0.0.7', { ready: true }));
    kit.api.apply(slice('api', [{ ip: '10.0.0.7', ready: true }]));
    await until(() => keys().includes('svc/shop/api'));
    expect(membership.set.get('svc/shop/api')).toEqual({ key: 'svc/shop/api', cidrs: ['10.96.0.10/32'], ports: [80], identities: [API_ID] });
  });

  it('a Service whose ready endpoints are half meshed is not meshed', async () => {
    kit.api.apply(slice('api', [{ ip: '10.0.0.7', ready: true }, { ip: '10.0.0.50', ready: true }]));
    await until(() => !keys().includes('svc/shop/api'));
    kit.api.apply(slice('api', [{ ip: '10.0.0.7', ready: true }, { ip: '10.0.0.50', ready: false }]));
    await until(() => keys().includes('svc/shop/api'));
  });

  it('a pod going away takes its IP and its Service out', async () => {
    kit.api.remove('Pod', 'api-1', 'shop');
    await until(() => !keys().includes('pod/shop/api-1') && !keys().includes('svc/shop/api'));
  });

  it('changes made while the watches were down and compacted away (410 Gone) reach membership by a relist', async () => {
    kit.api.apply(pod('api-2', '10.0.0.8'));
    kit.api.apply(slice('api', [{ ip: '10.0.0.8', ready: true }]));
    await until(() => keys().includes('svc/shop/api'));
    const relists = feed.status().map((s) => s.relists);
    kit.api.dropWatches();
    kit.api.remove('Pod', 'api-2', 'shop');
    kit.api.apply(pod('api-3', '10.0.0.9'));
    kit.api.compact();
    // A watch that delivered no event before it was cut retries after a backoff: move the fake clock past it.
    const relisted = () => feed.status().every((s, i) => s.relists > relists[i]!);
    while (!relisted()) {
      await until(() => relisted() || kit.sleeping(), 10_000);
      if (!relisted()) await kit.clock.advance(30_000);
    }
    await until(() => keys().join() === ['pod/shop/api-3'].join(), 10_000);
  });
});

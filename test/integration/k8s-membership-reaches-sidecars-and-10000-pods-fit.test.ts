// A CA with --k8s-mesh-watch against the stand-in API server: the mesh stream serves no membership until Pods,
// Services and EndpointSlices are listed, then a pod turning ready (its Service meshed) or going away reaches a
// connected sidecar as a delta. With 10,000 meshed pods behind 2,000 Services the snapshot comes whole, and the
// sidecar's membership set holds it in at most 5 MB of heap (measured after forced collections).
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCaProto } from '../../src/common/ca-proto.js';
import { decodeUpdate } from '../../src/mesh/codec.js';
import { MembershipSet } from '../../src/mesh/membership-set.js';
import type { MeshUpdate__Output } from '../../src/gen/ztmesh/mesh/v1/MeshUpdate.js';
import { startCa, type TestCaServer } from '../helpers/ca.js';
import { startFakeApiServer, type FakeApiServer } from '../helpers/fake-apiserver.js';
import { openMesh, svidFor, type TestMeshStream } from '../helpers/mesh-stream.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
/** Full collections, with time between for V8 to finish sweeping (heapUsed counts what is not swept yet). */
async function settle(): Promise<void> {
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((r) => setTimeout(r, 20));
  }
}
type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const pod = (ns: string, name: string, ip: string, ready = true): Obj => ({
  apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: ns, labels: { app: name.replace(/-\d+$/, ''), 'ztmesh.io/meshed': 'true' } },
  spec: { serviceAccountName: name.replace(/-\d+$/, ''), containers: [{ name: 'app', image: 'x' }] },
  status: { phase: 'Running', podIP: ip, podIPs: [{ ip }], conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }] },
});
const service = (ns: string, name: string, ip: string): Obj => ({
  apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: ns }, spec: { clusterIP: ip, clusterIPs: [ip], ports: [{ port: 80 }, { port: 443 }] },
});
const slice = (ns: string, svc: string, eps: { ip: string; ready: boolean }[]): Obj => ({
  apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', addressType: 'IPv4',
  metadata: { name: `${svc}-x`, namespace: ns, labels: { 'kubernetes.io/service-name': svc } },
  endpoints: eps.map((e) => ({ addresses: [e.ip], conditions: { ready: e.ready } })),
});

let api: FakeApiServer;
let ca: TestCaServer;
const PODS = 10_000;
const SERVICES = 2_000;

/** A sidecar's view of the stream: every update applied to a membership set (and acknowledged), as the sidecar does. */
function follow(s: TestMeshStream) {
  const set = new MembershipSet();
  const kinds: string[] = [];
  return {
    set,
    /** The types of the updates applied so far: 'snapshot' or 'delta'. */
    kinds,
    async until(ok: (set: MembershipSet) => boolean): Promise<void> {
      while (!ok(set)) {
        const u = await s.next(20_000);
        const d = decodeUpdate(u);
        if (!d.ok || d.value.kind !== 'membership') throw new Error(`bad update ${JSON.stringify(u).slice(0, 200)}`);
        expect(set.check(d.value)).toBeUndefined();
        set.apply(d.value);
        kinds.push(d.value.base === '' ? 'snapshot' : 'delta');
        s.ack(u);
      }
    },
  };
}

/** Decodes a snapshot and applies it to a new set, in a function of its own so that nothing of the message survives it. */
function loadSet(bytes: Buffer, deserialize: (b: Buffer) => unknown): MembershipSet {
  const decoded = decodeUpdate(deserialize(bytes));
  if (!decoded.ok || decoded.value.kind !== 'membership') throw new Error('snapshot did not decode');
  const set = new MembershipSet();
  set.apply(decoded.value);
  return set;
}

describe('Kubernetes membership on the mesh stream', () => {
  beforeAll(async () => {
    api = await startFakeApiServer();
    api.apply(service('shop', 'api', '10.96.0.10'));
    api.apply(slice('shop', 'api', [{ ip: '10.1.0.7', ready: false }]));
    api.apply(pod('shop', 'api-1', '10.1.0.7', false));
    for (let i = 1; i <= 5; i++) api.apply(pod('shop', `web-${i}`, `10.1.1.${i}`));
    ca = await startCa({ trustDomain: 'cluster.local', args: ['--k8s-mesh-watch', '--k8s-api', api.url, '--k8s-token-file', api.tokenFile, '--k8s-ca-file', api.caFile, '--k8s-server-name', api.serverName] });
  }, 60_000);
  afterAll(async () => {
    await ca?.stop();
    await api?.close();
  });

  it('a pod turning ready meshes its Service, a pod going away leaves, each as a delta', async () => {
    const s = openMesh(ca, await svidFor(ca, 'spiffe://cluster.local/ns/shop/sa/web'));
    s.subscribe(['membership']);
    const view = follow(s);
    await view.until((set) => set.size === 6);
    expect(view.kinds).toEqual(['snapshot']);
    expect(view.set.match('10.1.0.7', 80)?.key).toBe('pod/shop/api-1');
    expect(view.set.match('10.96.0.10', 80)).toBeUndefined();
    api.apply(pod('shop', 'api-1', '10.1.0.7', true));
    api.apply(slice('shop', 'api', [{ ip: '10.1.0.7', ready: true }]));
    await view.until((set) => set.match('10.96.0.10', 443)?.key === 'svc/shop/api');
    expect(view.set.match('10.96.0.10', 443)?.expect.map((p) => p.text)).toEqual(['spiffe://cluster.local/ns/shop/sa/api']);
    api.remove('Pod', 'api-1', 'shop');
    await view.until((set) => !set.match('10.1.0.7', 80) && !set.match('10.96.0.10', 443));
    expect(view.kinds.slice(1).every((k) => k === 'delta')).toBe(true);
    s.cancel();
  });

  it('10,000 pods and 2,000 Services arrive in one snapshot the sidecar holds in at most 5 MB', async () => {
    for (let i = 0; i < PODS; i++) api.apply(pod(`ns-${i % 50}`, `app${i % SERVICES}-${i}`, `10.${2 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`));
    for (let j = 0; j < SERVICES; j++) {
      const ns = `ns-${j % 50}`;
      api.apply(service(ns, `app${j}`, `10.200.${j >> 8}.${j & 255}`));
      const eps = [0, 1, 2, 3, 4].map((k) => j + k * SERVICES).map((i) => ({ ip: `10.${2 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`, ready: true }));
      api.apply(slice(ns, `app${j}`, eps));
    }
    const s = openMesh(ca, await svidFor(ca, 'spiffe://cluster.local/ns/shop/sa/web'));
    s.subscribe(['membership']);
    // The CA follows the objects as they are written; a new stream's snapshot holds them all once it has caught up.
    let snap = await s.next(30_000);
    while (snap.membership!.upsert.length < PODS + SERVICES) {
      s.ack(snap);
      const d = await s.next(30_000);
      snap = { ...d, membership: { upsert: [...new Map([...snap.membership!.upsert, ...d.membership!.upsert].map((x) => [x.key, x])).values()].filter((x) => !d.membership!.remove.includes(x.key)), remove: [] } };
    }
    s.cancel();
    s.updates.length = 0;
    const Stream = loadCaProto().proto.ztmesh.mesh.v1.Mesh.service.Stream;
    const bytes = Stream.responseSerialize({ ...snap, baseVersion: '' });
    console.log(`membership snapshot: ${snap.membership!.upsert.length} entries, ${(bytes.length / 1e6).toFixed(2)} MB on the wire`);
    snap = undefined as unknown as MeshUpdate__Output;
    await settle();
    const before = process.memoryUsage().heapUsed;
    const set = loadSet(bytes, (b) => Stream.responseDeserialize(b));
    await settle();
    const retained = process.memoryUsage().heapUsed - before;
    console.log(`sidecar membership set: ${set.size} entries in ${(retained / 1e6).toFixed(2)} MB of heap`);
    expect(set.size).toBeGreaterThanOrEqual(PODS + SERVICES);
    expect(set.match('10.2.0.5', 8080)?.key).toBe('pod/ns-5/app5-5');
    expect(set.match('10.200.0.5', 443)?.expect.map((p) => p.text)).toEqual(['spiffe://cluster.local/ns/ns-5/sa/app5']);
    expect(retained).toBeLessThan(5e6);
  }, 120_000);
});

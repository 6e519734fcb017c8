// The Kubernetes membership rules as tables: which pods, Services and EndpointSlices the CA keeps, and when a
// Service is meshed (every ready endpoint a meshed pod, at least one), with the identities expected there.
import { describe, expect, it } from 'vitest';
import {
  podDestination, projectPod, projectService, projectSlice, serviceDestination, type PodView, type SliceView,
} from '../../../src/k8s/mesh-membership.js';
import type { WatchedObject } from '../../../src/k8s/watch/resource.js';

const TD = 'cluster.local';
const obj = (o: Record<string, unknown>) => o as unknown as WatchedObject;
const meshedPod = (status: Record<string, unknown>, labels: Record<string, string> = { 'ztmesh.io/meshed': 'true' }, sa?: string) =>
  obj({ metadata: { name: 'p', namespace: 'shop', labels }, spec: sa ? { serviceAccountName: sa } : {}, status });

describe('projectPod', () => {
  it.each([
    ['a running meshed pod', meshedPod({ phase: 'Running', podIP: '10.0.0.7', podIPs: [{ ip: '10.0.0.7' }, { ip: 'fd00::7' }] }, undefined, 'api'), { ips: ['10.0.0.7', 'fd00::7'], serviceAccount: 'api' }],
    ['a pending pod with an IP already (meshed from its IP on)', meshedPod({ phase: 'Pending', podIP: '10.0.0.8' }), { ips: ['10.0.0.8'], serviceAccount: 'default' }],
    ['a pod not ready stays meshed', meshedPod({ phase: 'Running', podIP: '10.0.0.9', conditions: [{ type: 'Ready', status: 'False' }] }), { ips: ['10.0.0.9'], serviceAccount: 'default' }],
    ['a pod without an IP yet', meshedPod({ phase: 'Pending' }), undefined],
    ['a finished pod', meshedPod({ phase: 'Succeeded', podIP: '10.0.0.7' }), undefined],
    ['a failed pod', meshedPod({ phase: 'Failed', podIP: '10.0.0.7' }), undefined],
    ['a pod without the label', meshedPod({ phase: 'Running', podIP: '10.0.0.7' }, { app: 'x' }), undefined],
    ['a pod whose IP is garbage', meshedPod({ phase: 'Running', podIP: 'not-an-ip' }), undefined],
  ])('%s', (_what, o, want) => expect(projectPod(o)).toEqual(want));
});

describe('projectService and projectSlice', () => {
  it.each([
    ['a ClusterIP Service, TCP ports only', { spec: { clusterIP: '10.96.0.10', clusterIPs: ['10.96.0.10', 'fd00:96::10'], ports: [{ port: 443 }, { port: 53, protocol: 'UDP' }, { port: 80, protocol: 'TCP' }] } }, { clusterIPs: ['10.96.0.10', 'fd00:96::10'], ports: [80, 443] }],
    ['a headless Service', { spec: { clusterIP: 'None', ports: [{ port: 80 }] } }, undefined],
    ['an ExternalName Service', { spec: { type: 'ExternalName', externalName: 'db.example.org' } }, undefined],
    ['a Service with only UDP ports', { spec: { clusterIP: '10.96.0.11', ports: [{ port: 53, protocol: 'UDP' }] } }, undefined],
  ])('%s', (_what, o, want) => expect(projectService(obj({ metadata: { name: 's', namespace: 'shop' }, ...o }))).toEqual(want));

  it('keeps the endpoints of an IP slice with their readiness (unknown is ready), and skips FQDN slices', () => {
    const slice = (addressType: string) => obj({
      metadata: { name: 'api-abc', namespace: 'shop', labels: { 'kubernetes.io/service-name': 'api' } }, addressType,
      endpoints: [{ addresses: ['10.0.0.7'], conditions: { ready: true } }, { addresses: ['10.0.0.8'], conditions: { ready: false } }, { addresses: ['10.0.0.9'] }],
    });
    expect(projectSlice(slice('IPv4'))).toEqual({
      service: 'shop/api', endpoints: [{ addresses: ['10.0.0.7'], ready: true }, { addresses: ['10.0.0.8'], ready: false }, { addresses: ['10.0.0.9'], ready: true }],
    });
    expect(projectSlice(slice('FQDN'))).toBeUndefined();
  });
});

describe('serviceDestination', () => {
  const pods = new Map<string, { key: string; pod: PodView }>([
    ['10.0.0.7', { key: 'shop/api-1', pod: { ips: ['10.0.0.7'], serviceAccount: 'api' } }],
    ['10.0.0.8', { key: 'shop/api-2', pod: { ips: ['10.0.0.8'], serviceAccount: 'api' } }],
    ['10.0.0.9', { key: 'shop/admin-1', pod: { ips: ['10.0.0.9'], serviceAccount: 'admin' } }],
  ]);
  const svc = { clusterIPs: ['10.96.0.10'], ports: [80] };
  const slices = (...endpoints: SliceView['endpoints']): SliceView[] => [{ service: 'shop/api', endpoints }];
  const run = (s: SliceView[]) => serviceDestination('shop/api', svc, s, (ip) => pods.get(ip), TD);
  it.each([
    ['every ready endpoint a meshed pod', slices({ addresses: ['10.0.0.7'], ready: true }, { addresses: ['10.0.0.8'], ready: true }), ['spiffe://cluster.local/ns/shop/sa/api']],
    ['endpoints of two ServiceAccounts', slices({ addresses: ['10.0.0.7'], ready: true }, { addresses: ['10.0.0.9'], ready: true }), ['spiffe://cluster.local/ns/shop/sa/admin', 'spiffe://cluster.local/ns/shop/sa/api']],
    ['half meshed: one ready endpoint without a sidecar', slices({ addresses: ['10.0.0.7'], ready: true }, { addresses: ['10.0.0.50'], ready: true }), undefined],
    ['an unmeshed endpoint that is not ready does not count', slices({ addresses: ['10.0.0.7'], ready: true }, { addresses: ['10.0.0.50'], ready: false }), ['spiffe://cluster.local/ns/shop/sa/api']],
    ['no ready endpoint', slices({ addresses: ['10.0.0.7'], ready: false }), undefined],
    ['no slice at all', [], undefined],
  ])('%s', (_what, s, identities) => {
    const d = run(s);
    if (identities === undefined) expect(d).toBeUndefined();
    else expect(d).toEqual({ key: 'svc/shop/api', cidrs: ['10.96.0.10/32'], ports: [80], identities });
  });

  it('a pod is meshed on every port of each IP, expecting its ServiceAccount', () => {
    expect(podDestination('shop/api-1', { ips: ['10.0.0.7', 'fd00::7'], serviceAccount: 'api' }, TD))
      .toEqual({ key: 'pod/shop/api-1', cidrs: ['10.0.0.7/32', 'fd00::7/128'], ports: [], identities: ['spiffe://cluster.local/ns/shop/sa/api'] });
  });
});

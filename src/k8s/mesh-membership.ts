// Which Kubernetes objects are meshed (docs/design.md "Kubernetes objects and annotations", membership): the
// projections the CA's watchers keep of Pods, Services and EndpointSlices, and the rules that turn them into meshed
// destinations. Pure; k8s/mesh-watch.ts runs them on the informers' events.
//   - A pod labelled ztmesh.io/meshed=true (inject and the webhook set it) is meshed on every port of each of its IPs
//     from the moment it has one and is not Succeeded or Failed, until the pod object is gone. Readiness does not
//     count: a crashed sidecar must not turn its callers to plaintext.
//   - A Service's ClusterIPs are meshed on its TCP ports when it has at least one ready endpoint and every ready
//     endpoint is a meshed pod. A Service with one endpoint that is not (half meshed) is not meshed. Headless and
//     ExternalName Services need nothing (their pods are meshed themselves).
import { isIP } from 'node:net';
import { MEMBERSHIP_PREFIXES } from '../ca/mesh/membership-kind.js';
import type { MeshedDestination } from '../mesh/destination.js';
import { MESH_LIMITS } from '../mesh/kinds.js';
import { workloadId } from '../pki/spiffe-id.js';
import type { WatchedObject } from './watch/resource.js';

/** The label inject and the webhook put on the pods they inject. */
export const MESHED_LABEL = 'ztmesh.io/meshed';
export const MESHED_LABEL_SELECTOR = `${MESHED_LABEL}=true`;
/** The label an EndpointSlice names its Service with. */
export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';

/** What the CA keeps of a meshed pod. */
export interface PodView {
  ips: string[];
  serviceAccount: string;
}

/** What the CA keeps of a Service with a ClusterIP. */
export interface ServiceView {
  clusterIPs: string[];
  /** TCP ports, sorted. */
  ports: number[];
}

/** What the CA keeps of an EndpointSlice. */
export interface SliceView {
  /** "namespace/name" of its Service. */
  service: string;
  /** Each endpoint's addresses and whether it is ready (unknown counts as ready, as the API says). */
  endpoints: { addresses: string[]; ready: boolean }[];
}

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const asObj = (v: unknown): Obj => (v !== null && typeof v === 'object' ? (v as Obj) : {});
const ipsOf = (list: unknown): string[] => (Array.isArray(list) ? list.filter((a): a is string => typeof a === 'string' && isIP(a) !== 0) : []);

/** A meshed pod with an IP that is not finished; undefined otherwise (absent from the cache). */
export function projectPod(o: WatchedObject): PodView | undefined {
  const obj = o as Obj;
  if (asObj(obj.metadata.labels)[MESHED_LABEL] !== 'true') return undefined;
  const status = asObj(obj.status);
  if (status.phase === 'Succeeded' || status.phase === 'Failed') return undefined;
  const ips = [...new Set([...ipsOf((Array.isArray(status.podIPs) ? status.podIPs : []).map((p: unknown) => asObj(p).ip)), ...ipsOf([status.podIP])])].sort();
  if (ips.length === 0) return undefined;
  const sa = asObj(obj.spec).serviceAccountName;
  return { ips, serviceAccount: typeof sa === 'string' && sa ? sa : 'default' };
}

/** A Service with a ClusterIP and TCP ports; undefined for headless, ExternalName or port-less ones. */
export function projectService(o: WatchedObject): ServiceView | undefined {
  const spec = asObj((o as Obj).spec);
  if (spec.type === 'ExternalName') return undefined;
  const clusterIPs = [...new Set(ipsOf(Array.isArray(spec.clusterIPs) ? spec.clusterIPs : [spec.clusterIP]))].sort();
  const ports = [...new Set((Array.isArray(spec.ports) ? spec.ports : []).map(asObj)
    .filter((p) => (p.protocol ?? 'TCP') === 'TCP' && Number.isInteger(p.port) && p.port >= 1 && p.port <= 65535).map((p) => p.port as number))].sort((a, b) => a - b);
  if (clusterIPs.length === 0 || ports.length === 0) return undefined;
  return { clusterIPs, ports };
}

/** An EndpointSlice of IP addresses naming its Service; undefined otherwise. */
export function projectSlice(o: WatchedObject): SliceView | undefined {
  const obj = o as Obj;
  const service = asObj(obj.metadata.labels)[SERVICE_NAME_LABEL];
  if (typeof service !== 'string' || !service || (obj.addressType !== 'IPv4' && obj.addressType !== 'IPv6')) return undefined;
  const endpoints = (Array.isArray(obj.endpoints) ? obj.endpoints : []).map(asObj).map((e) => ({
    addresses: ipsOf(e.addresses), ready: asObj(e.conditions).ready !== false,
  }));
  return { service: `${obj.metadata.namespace}/${service}`, endpoints };
}

const hostCidr = (ip: string) => `${ip}/${isIP(ip) === 4 ? 32 : 128}`;

/** The destination of a meshed pod: every port of its IPs, expecting its ServiceAccount's ID. */
export function podDestination(key: string, pod: PodView, trustDomain: string): MeshedDestination {
  const [ns] = key.split('/');
  return { key: `${MEMBERSHIP_PREFIXES.pod}${key}`, cidrs: pod.ips.map(hostCidr), ports: [], identities: [workloadId(trustDomain, ns!, pod.serviceAccount).uri] };
}

/**
 * The destination of a Service, or undefined when it is not meshed: no ready endpoint, or a ready endpoint that is
 * not a meshed pod. It expects the IDs of its endpoints' pods (any ID of the trust domain past MESH_LIMITS).
 */
export function serviceDestination(
  key: string, svc: ServiceView, slices: readonly SliceView[], meshedPod: (ip: string) => { key: string; pod: PodView } | undefined, trustDomain: string,
): MeshedDestination | undefined {
  const ready = slices.flatMap((s) => s.endpoints).filter((e) => e.ready && e.addresses.length > 0);
  if (ready.length === 0) return undefined;
  const ids = new Set<string>();
  for (const e of ready) {
    for (const ip of e.addresses) {
      const p = meshedPod(ip);
      if (!p) return undefined;
      ids.add(workloadId(trustDomain, p.key.split('/')[0]!, p.pod.serviceAccount).uri);
    }
  }
  const identities = ids.size > MESH_LIMITS.maxIdentities ? [] : [...ids].sort();
  return { key: `${MEMBERSHIP_PREFIXES.service}${key}`, cidrs: svc.clusterIPs.map(hostCidr), ports: svc.ports, identities };
}

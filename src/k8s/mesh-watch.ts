// The CA's Kubernetes membership feed: three informers (meshed Pods, Services, EndpointSlices, on the shared loop of
// k8s/watch/) whose events keep the membership set (ca/mesh/membership-kind.ts) equal to the rules of
// k8s/mesh-membership.ts. Invariants:
// - Nothing is served before all three have listed once (writer.complete()): a partial set would mark meshed
//   destinations as not meshed. After that the informers keep the last known state through API outages, and a
//   relist (410 Gone) reports what was deleted meanwhile, so membership converges without an empty window.
// - A pod's change recomputes exactly the Services that have one of its IPs among their endpoints; a slice's change,
//   its Service. The indexes hold one entry per pod IP and per endpoint address.
import type { Clock } from '../common/clock.js';
import type { Logger } from '../common/logger.js';
import { MEMBERSHIP_PREFIXES, type MembershipWriter } from '../ca/mesh/membership-kind.js';
import type { MembershipFeed } from '../ca/mesh/mesh-plane.js';
import type { KubeClient } from './kube-client.js';
import { Informer, type InformerStatus } from './watch/informer.js';
import type { ResourceRef } from './watch/resource.js';
import {
  MESHED_LABEL_SELECTOR, podDestination, projectPod, projectService, projectSlice, serviceDestination, type PodView, type ServiceView, type SliceView,
} from './mesh-membership.js';

/** The collections the CA watches (and `ztmesh check` checks it may list and watch). */
export const MESH_WATCHED: readonly ResourceRef[] = [
  { group: '', version: 'v1', plural: 'pods', labelSelector: MESHED_LABEL_SELECTOR },
  { group: '', version: 'v1', plural: 'services' },
  { group: 'discovery.k8s.io', version: 'v1', plural: 'endpointslices' },
];

export interface MeshWatchOptions {
  client: KubeClient;
  trustDomain: string;
  clock: Clock;
  log: Logger;
}

const addTo = <K, V>(m: Map<K, Set<V>>, k: K, v: V) => { let s = m.get(k); if (!s) m.set(k, (s = new Set())); s.add(v); };
const dropFrom = <K, V>(m: Map<K, Set<V>>, k: K, v: V) => { const s = m.get(k); if (s?.delete(v) && s.size === 0) m.delete(k); };

/** Membership from Pods, Services and EndpointSlices. */
export class MeshWatch implements MembershipFeed {
  private readonly pods: Informer<PodView>;
  private readonly services: Informer<ServiceView>;
  private readonly slices: Informer<SliceView>;
  /** Meshed pod IP → pod key. */
  private readonly podByIp = new Map<string, string>();
  /** Service key → its slices' keys. */
  private readonly slicesOf = new Map<string, Set<string>>();
  /** Endpoint address → the Services whose slices list it. */
  private readonly servicesByIp = new Map<string, Set<string>>();
  private writer: MembershipWriter | undefined;
  private readonly log: Logger;

  constructor(private readonly opts: MeshWatchOptions) {
    this.log = opts.log.child({ component: 'mesh-watch' });
    const common = { client: opts.client, clock: opts.clock, log: opts.log };
    this.pods = new Informer<PodView>({
      ...common, resource: MESH_WATCHED[0]!, project: projectPod,
      handlers: { added: (k, v) => this.onPod(k, undefined, v), updated: (k, v, old) => this.onPod(k, old, v), deleted: (k, old) => this.onPod(k, old, undefined) },
    });
    this.services = new Informer<ServiceView>({
      ...common, resource: MESH_WATCHED[1]!, project: projectService,
      handlers: { added: (k) => this.recompute(k), updated: (k) => this.recompute(k), deleted: (k) => this.recompute(k) },
    });
    this.slices = new Informer<SliceView>({
      ...common, resource: MESH_WATCHED[2]!, project: projectSlice,
      handlers: { added: (k, v) => this.onSlice(k, undefined, v), updated: (k, v, old) => this.onSlice(k, old, v), deleted: (k, old) => this.onSlice(k, old, undefined) },
    });
  }

  start(writer: MembershipWriter): void {
    this.writer = writer;
    const informers = [this.pods, this.services, this.slices];
    for (const i of informers) i.start();
    void Promise.all(informers.map((i) => i.whenSynced())).then(() => {
      // Services seen before their slices or pods were recomputed as they came; once all three listed, once more.
      for (const [key] of this.services.cache.entries()) this.recompute(key);
      writer.complete();
      this.log.info({ pods: this.pods.cache.size, services: this.services.cache.size, endpointSlices: this.slices.cache.size }, 'Kubernetes membership listed: serving it');
    });
    this.log.info({ watching: MESH_WATCHED.map((r) => r.plural) }, 'watching Kubernetes for membership; none is served until all are listed');
  }

  status(): InformerStatus[] {
    return [this.pods.status(), this.services.status(), this.slices.status()];
  }

  async close(): Promise<void> {
    await Promise.all([this.pods.stop(), this.services.stop(), this.slices.stop()]);
  }

  private onPod(key: string, old: PodView | undefined, now: PodView | undefined): void {
    for (const ip of old?.ips ?? []) if (this.podByIp.get(ip) === key) this.podByIp.delete(ip);
    for (const ip of now?.ips ?? []) this.podByIp.set(ip, key);
    if (now) this.writer?.upsert(podDestination(key, now, this.opts.trustDomain));
    else this.writer?.remove(`${MEMBERSHIP_PREFIXES.pod}${key}`);
    const touched = new Set<string>();
    for (const ip of [...(old?.ips ?? []), ...(now?.ips ?? [])]) for (const s of this.servicesByIp.get(ip) ?? []) touched.add(s);
    for (const s of touched) this.recompute(s);
  }

  private onSlice(key: string, old: SliceView | undefined, now: SliceView | undefined): void {
    for (const v of [old, now]) {
      if (!v) continue;
      const add = v === now;
      if (add) addTo(this.slicesOf, v.service, key);
      else dropFrom(this.slicesOf, v.service, key);
      for (const e of v.endpoints) for (const ip of e.addresses) (add ? addTo : dropFrom)(this.servicesByIp, ip, v.service);
    }
    // An address both old and new was dropped, then added again: the index holds it.
    if (old) this.recompute(old.service);
    if (now && now.service !== old?.service) this.recompute(now.service);
  }

  private recompute(svcKey: string): void {
    if (!this.writer) return;
    const svc = this.services.cache.get(svcKey);
    const slices = [...(this.slicesOf.get(svcKey) ?? [])].map((k) => this.slices.cache.get(k)).filter((s): s is SliceView => !!s);
    const meshedPod = (ip: string) => {
      const key = this.podByIp.get(ip);
      const pod = key === undefined ? undefined : this.pods.cache.get(key);
      return key !== undefined && pod ? { key, pod } : undefined;
    };
    const d = svc && serviceDestination(svcKey, svc, slices, meshedPod, this.opts.trustDomain);
    if (d) this.writer.upsert(d);
    else this.writer.remove(`${MEMBERSHIP_PREFIXES.service}${svcKey}`);
  }
}

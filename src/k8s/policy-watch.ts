// The CA's AuthorizationPolicy watch (`ca serve --k8s-policy-watch`): one informer (k8s/watch/) over the CRD's objects in
// every namespace, each object read by the one reader (policy/parse.ts) and written into the CA's policy store as a
// source of its own. Invariants:
// - Nothing is served before the first complete list (writer.complete()): a partial set could admit or refuse
//   wrongly. After it, the informer keeps the last known state through API outages; a relist (410 Gone) reports what
//   was deleted meanwhile.
// - An invalid object is refused, logged (by the store) and given a Warning Event naming the field; its last valid
//   version stays in force (the store keeps it), and every other object loads.
import type { Clock } from '../common/clock.js';
import type { Logger } from '../common/logger.js';
import type { PolicyFeed, PolicyWriter } from '../ca/policy/policy-store.js';
import { POLICY_API_VERSION, POLICY_GROUP, POLICY_KIND, POLICY_PLURAL, POLICY_VERSION } from '../policy/model.js';
import { parsePolicyObjects, type ParsedFile } from '../policy/parse.js';
import type { KubeClient } from './kube-client.js';
import type { EventRecorder } from './watch/event-recorder.js';
import { Informer, type InformerStatus } from './watch/informer.js';
import type { ResourceRef, WatchedObject } from './watch/resource.js';

/** The collection the CA watches (and `ztmesh check` checks it may list and watch). */
export const POLICY_WATCHED: ResourceRef = { group: POLICY_GROUP, version: POLICY_VERSION, plural: POLICY_PLURAL };
/** How problems of watched objects name their source (`kubernetes:<namespace>/<name>:<field>`). */
export const KUBERNETES_SOURCE = 'kubernetes';
/** The reason of the Warning Event on an invalid object. */
export const INVALID_POLICY_EVENT = 'InvalidAuthorizationPolicy';

/** What the informer keeps of one object: its reading, and what an Event names. */
interface PolicyView {
  parsed: ParsedFile;
  uid: string | undefined;
  resourceVersion: string | undefined;
}

export interface PolicyWatchOptions {
  client: KubeClient;
  events: EventRecorder;
  clock: Clock;
  log: Logger;
}

/** AuthorizationPolicies from Kubernetes. */
export class PolicyWatch implements PolicyFeed {
  private readonly informer: Informer<PolicyView>;
  private writer: PolicyWriter | undefined;
  private readonly log: Logger;

  constructor(private readonly opts: PolicyWatchOptions) {
    this.log = opts.log.child({ component: 'policy-watch' });
    this.informer = new Informer<PolicyView>({
      client: opts.client, resource: POLICY_WATCHED, clock: opts.clock, log: opts.log,
      project: (o: WatchedObject) => ({ parsed: parsePolicyObjects([o], KUBERNETES_SOURCE), uid: o.metadata.uid, resourceVersion: o.metadata.resourceVersion }),
      // The reading is what matters; a new resourceVersion of the same content is no change.
      equals: (a, b) => JSON.stringify(a.parsed) === JSON.stringify(b.parsed),
      handlers: {
        added: (k, v) => this.onObject(k, v),
        updated: (k, v) => this.onObject(k, v),
        deleted: (k) => this.writer?.replaceSources(new Map([[sourceId(k), undefined]])),
      },
    });
  }

  start(writer: PolicyWriter): void {
    this.writer = writer;
    // Objects the informer delivered before start() are in its cache: written once it has listed.
    this.informer.start();
    void this.informer.whenSynced().then(() => {
      writer.complete();
      this.log.info({ policies: this.informer.cache.size }, 'AuthorizationPolicies listed: serving them');
    });
    this.log.info({ watching: `${POLICY_PLURAL}.${POLICY_GROUP}` }, 'watching AuthorizationPolicies; none is served until they are listed');
  }

  status(): InformerStatus {
    return this.informer.status();
  }

  close(): Promise<void> {
    return this.informer.stop();
  }

  private onObject(key: string, v: PolicyView): void {
    this.writer?.replaceSources(new Map([[sourceId(key), { source: KUBERNETES_SOURCE, parsed: v.parsed }]]));
    if (v.parsed.problems.length === 0) return;
    const [namespace, name] = key.split('/') as [string, string];
    const message = `${v.parsed.problems.slice(0, 5).map((p) => `${p.field}: ${p.message}`).join('; ')}. `
      + 'The object is refused; its last valid version, if any, stays in force (ztmesh policy validate names every problem).';
    void this.opts.events.record({ apiVersion: POLICY_API_VERSION, kind: POLICY_KIND, name, namespace, ...(v.uid ? { uid: v.uid } : {}), ...(v.resourceVersion ? { resourceVersion: v.resourceVersion } : {}) },
      'Warning', INVALID_POLICY_EVENT, message);
  }
}

/** Each object is a source of its own in the store. */
const sourceId = (key: string) => `k8s:${key}`;

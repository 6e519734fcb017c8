// Writes core/v1 Events on Kubernetes objects (what `kubectl describe` shows), e.g. "this AuthorizationPolicy is
// invalid: spec.action". Bounded, because an object that stays invalid is seen again at every relist.
//
// Invariants: the same (reason, message) on the same object is written at most once per `dedupeMs`; one object gets at
// most `perObjectMax` Events per `windowMs`; at most `maxTracked` objects are remembered (the oldest forgotten first).
// record() never throws: a refused or failed write is logged (throttled) and counted.
import type { CoreV1Event } from '@kubernetes/client-node';
import type { Clock } from '../../common/clock.js';
import { isoTime } from '../../common/clock.js';
import { describe as describeError } from '../../common/errors.js';
import type { Logger } from '../../common/logger.js';
import { LogThrottle } from '../../common/log-throttle.js';
import type { KubeClient } from '../kube-client.js';
import { apiError } from './api-status.js';

/** The same Event on the same object is not repeated within an hour. */
export const EVENT_DEDUPE_MS = 3_600_000;
/** Per object: at most 5 Events per 10 minutes. */
export const EVENT_PER_OBJECT = { max: 5, windowMs: 600_000 } as const;
/** Objects whose recent Events are remembered. */
export const EVENT_MAX_TRACKED = 1_024;
/** The API server keeps Event messages short; longer ones are cut here. */
export const EVENT_MAX_MESSAGE = 1_024;

/** The object an Event is about. */
export interface EventSubject {
  apiVersion: string;
  kind: string;
  name: string;
  /** Omitted for cluster-scoped objects (their Events go to "default", as kubectl looks for them). */
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
}

interface Tracked {
  budget: LogThrottle;
  /** "reason\0message" → when it was last written. */
  written: Map<string, number>;
}

export interface EventRecorderOptions {
  client: KubeClient;
  clock: Clock;
  log: Logger;
  /** source.component and reportingComponent: "ztmesh-ca". */
  component: string;
  /** reportingInstance: the pod name, for instance. */
  instance?: string;
  dedupeMs?: number;
  perObjectMax?: number;
  windowMs?: number;
  maxTracked?: number;
}

/** Writes bounded Events; see the invariants above. */
export class EventRecorder {
  private readonly tracked = new Map<string, Tracked>();
  private readonly throttle: LogThrottle;
  private readonly log: Logger;
  private counts = { written: 0, suppressed: 0, failed: 0 };

  constructor(private readonly opts: EventRecorderOptions) {
    this.throttle = new LogThrottle(opts.clock);
    this.log = opts.log.child({ component: 'k8s-events' });
  }

  /** Written, suppressed by the bounds, and failed Events so far. */
  stats(): { written: number; suppressed: number; failed: number } {
    return { ...this.counts };
  }

  /** Writes one Event on `subject` unless the bounds suppress it; resolves true if the API server stored it. */
  async record(subject: EventSubject, type: 'Normal' | 'Warning', reason: string, message: string): Promise<boolean> {
    const now = this.opts.clock.now();
    const text = message.length > EVENT_MAX_MESSAGE ? `${message.slice(0, EVENT_MAX_MESSAGE - 3)}...` : message;
    const objectId = `${subject.namespace ?? ''}/${subject.kind}/${subject.name}/${subject.uid ?? ''}`;
    const t = this.track(objectId);
    const dedupeKey = `${reason}\0${text}`;
    const last = t.written.get(dedupeKey);
    if ((last !== undefined && now - last < (this.opts.dedupeMs ?? EVENT_DEDUPE_MS)) || t.budget.admit() === undefined) {
      this.counts.suppressed++;
      return false;
    }
    t.written.set(dedupeKey, now);
    const namespace = subject.namespace ?? 'default';
    const event: CoreV1Event = {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name: `${subject.name}.${(BigInt(now) * 1_000_000n + BigInt(this.counts.written % 1_000_000)).toString(16)}`, namespace },
      involvedObject: {
        apiVersion: subject.apiVersion, kind: subject.kind, name: subject.name,
        ...(subject.namespace ? { namespace: subject.namespace } : {}),
        ...(subject.uid ? { uid: subject.uid } : {}),
        ...(subject.resourceVersion ? { resourceVersion: subject.resourceVersion } : {}),
      },
      type, reason, message: text, count: 1,
      source: { component: this.opts.component },
      reportingComponent: this.opts.component,
      ...(this.opts.instance ? { reportingInstance: this.opts.instance } : {}),
      // client-node types these as Date; on the wire they are RFC 3339 strings.
      firstTimestamp: isoTime(now) as unknown as Date,
      lastTimestamp: isoTime(now) as unknown as Date,
    };
    try {
      const res = await this.opts.client.call('POST', `/api/v1/namespaces/${encodeURIComponent(namespace)}/events`, event);
      if (res.status !== 201 && res.status !== 200) {
        throw apiError({ verb: 'create', resource: 'events', group: '', scope: `in namespace ${namespace}` }, res.status, res.body);
      }
      this.counts.written++;
      return true;
    } catch (e) {
      this.counts.failed++;
      const d = describeError(e);
      const suppressed = this.throttle.admit();
      if (suppressed !== undefined) {
        this.log.warn({ code: d.code, err: d.message, object: objectId, reason, ...(suppressed ? { suppressed } : {}) }, 'could not write a Kubernetes Event');
      }
      return false;
    }
  }

  private track(objectId: string): Tracked {
    let t = this.tracked.get(objectId);
    if (t) {
      // Refresh its place: the map's order is least recently used first.
      this.tracked.delete(objectId);
    } else {
      t = { budget: new LogThrottle(this.opts.clock, this.opts.perObjectMax ?? EVENT_PER_OBJECT.max, this.opts.windowMs ?? EVENT_PER_OBJECT.windowMs), written: new Map() };
    }
    this.tracked.set(objectId, t);
    const max = this.opts.maxTracked ?? EVENT_MAX_TRACKED;
    while (this.tracked.size > max) this.tracked.delete(this.tracked.keys().next().value!);
    // A long-lived object that keeps changing message keeps at most perObjectMax entries worth remembering.
    const now = this.opts.clock.now();
    for (const [k, at] of t.written) if (now - at >= (this.opts.dedupeMs ?? EVENT_DEDUPE_MS)) t.written.delete(k);
    return t;
  }
}

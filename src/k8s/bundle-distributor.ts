// Copies the trust bundle into every meshed namespace as ConfigMap ztmesh-trust-bundle (roots.pem): a pod can only
// mount a ConfigMap of its own namespace. Each copy follows root rotation. Which namespaces
// are meshed comes from authenticated watches through the API server (k8s/watch/informer.ts), never from what an
// AdmissionReview says: Namespaces labelled ztmesh.io/inject=enabled, and namespaces (not labelled enabled or
// disabled) holding a pod labelled ztmesh.io/inject=true, as the two entries of the MutatingWebhookConfiguration.
//
// Invariants:
// - The target set is what the watches say now (once both have listed), at most MAX_NAMESPACES; a namespace leaves it when it is deleted,
//   relabelled or terminating, and its state (retry timer included) goes with it. A meshed namespace that found the
//   set full waits, and takes the first place that frees up.
// - Each namespace has its own backoff and timer: one failing namespace never makes another one retry.
// - At most one write per namespace at a time; a namespace is written again only when the roots changed.
// - Warnings are throttled (20 per 10 s, then a count); nothing here throws into the caller.
import type { Clock, TimerHandle } from '../common/clock.js';
import { Backoff } from '../common/backoff.js';
import type { Logger } from '../common/logger.js';
import { LogThrottle } from '../common/log-throttle.js';
import { TRUST_BUNDLE_CONFIGMAP, TRUST_BUNDLE_KEY } from '../common/mesh.js';
import type { KubeClient } from './kube-client.js';
import { Informer } from './watch/informer.js';
import type { WatchedObject } from './watch/resource.js';

export const MANAGED_BY = 'ztmesh-webhook';
/** Retry policy per namespace whose ConfigMap could not be written. */
export const DISTRIBUTE_BACKOFF = { initialMs: 1_000, multiplier: 2, maxMs: 60_000, jitter: 0.2 };
/** Namespaces kept up to date at most; beyond, the rest wait (and a warning says so). */
export const MAX_NAMESPACES = 10_000;
/** The label (on Namespaces and Pods) that opts into injection, as the MutatingWebhookConfiguration selects it. */
export const INJECT_LABEL = 'ztmesh.io/inject';

const cmPath = (ns: string, name?: string) => `/api/v1/namespaces/${encodeURIComponent(ns)}/configmaps${name ? `/${encodeURIComponent(name)}` : ''}`;

/** What the distributor keeps of a Namespace: only those whose label or phase matters. */
export interface NamespaceView {
  inject: 'enabled' | 'disabled' | undefined;
  terminating: boolean;
}

/** The projection of a Namespace; undefined (not kept) for an active namespace without the label. Pure. */
export function namespaceView(obj: WatchedObject): NamespaceView | undefined {
  const label = obj.metadata.labels?.[INJECT_LABEL];
  const inject = label === 'enabled' || label === 'disabled' ? label : undefined;
  const terminating = (obj as { status?: { phase?: string } }).status?.phase === 'Terminating' || obj.metadata.deletionTimestamp !== undefined;
  return inject || terminating ? { inject, terminating } : undefined;
}

/** Whether `ns` gets the ConfigMap, from its namespace view and whether it holds a pod labelled for injection. Pure. */
export function isMeshed(view: NamespaceView | undefined, hasLabelledPod: boolean): boolean {
  if (view?.terminating) return false;
  if (view?.inject === 'enabled') return true;
  return hasLabelledPod && view?.inject !== 'disabled';
}

interface NamespaceState {
  /** The roots last written there (undefined: not yet). */
  written: string | undefined;
  backoff: Backoff;
  timer: TimerHandle | undefined;
  writing: boolean;
}

export interface BundleDistributorOptions {
  client: KubeClient;
  clock: Clock;
  log: Logger;
  random?: () => number;
  /** Namespaces kept up to date at most (MAX_NAMESPACES unless a test makes it small). */
  maxNamespaces?: number;
}

/** Keeps ztmesh-trust-bundle current in each meshed namespace, as the watches see them. */
export class BundleDistributor {
  private roots: string | undefined;
  private readonly targets = new Map<string, NamespaceState>();
  /** Meshed namespaces that found the target set full (no state of theirs is kept: they are written once admitted). */
  private readonly waiting = new Set<string>();
  private readonly views = new Map<string, NamespaceView>();
  /** Labelled pods per namespace. */
  private readonly podCounts = new Map<string, number>();
  private readonly namespaces: Informer<NamespaceView>;
  private readonly pods: Informer<string>;
  private readonly throttle: LogThrottle;
  private stopped = false;
  /** Both watches have listed once: before, one could see a pod before the other sees its namespace disabled. */
  private listed = false;
  private readonly log: Logger;

  constructor(private readonly opts: BundleDistributorOptions) {
    this.log = opts.log.child({ component: 'bundle-distributor' });
    this.throttle = new LogThrottle(opts.clock);
    const common = { client: opts.client, clock: opts.clock, log: opts.log, ...(opts.random ? { random: opts.random } : {}) };
    this.namespaces = new Informer<NamespaceView>({
      ...common, resource: { group: '', version: 'v1', plural: 'namespaces' }, project: namespaceView,
      handlers: {
        added: (ns, v) => this.setView(ns, v),
        updated: (ns, v) => this.setView(ns, v),
        deleted: (ns) => this.setView(ns, undefined),
      },
    });
    this.pods = new Informer<string>({
      ...common, resource: { group: '', version: 'v1', plural: 'pods', labelSelector: `${INJECT_LABEL}=true` },
      project: (pod) => pod.metadata.namespace,
      handlers: {
        added: (_key, ns) => this.countPod(ns, 1),
        updated: (_key, ns, old) => { this.countPod(old, -1); this.countPod(ns, 1); },
        deleted: (_key, ns) => this.countPod(ns, -1),
      },
    });
  }

  /** Starts both watches; writes begin once both have listed. */
  start(): void {
    this.namespaces.start();
    this.pods.start();
    void this.whenSynced().then(() => {
      this.listed = true;
      for (const ns of new Set([...this.views.keys(), ...this.podCounts.keys()])) this.reconsider(ns);
    });
  }

  /** Resolves once both watches have listed once (tests; the webhook does not wait for it). */
  async whenSynced(): Promise<void> {
    await Promise.all([this.namespaces.whenSynced(), this.pods.whenSynced()]);
  }

  /** The namespaces it keeps up to date now. */
  meshedNamespaces(): string[] {
    return [...this.targets.keys()];
  }

  /** New roots (PEM): every meshed namespace is brought up to date. */
  setRoots(pem: string): void {
    this.roots = pem;
    for (const ns of this.targets.keys()) this.sync(ns);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const s of this.targets.values()) s.timer?.cancel();
    await Promise.all([this.namespaces.stop(), this.pods.stop()]);
  }

  private setView(ns: string, view: NamespaceView | undefined): void {
    if (view) this.views.set(ns, view);
    else this.views.delete(ns);
    this.reconsider(ns);
  }

  private countPod(ns: string, delta: number): void {
    const n = (this.podCounts.get(ns) ?? 0) + delta;
    if (n > 0) this.podCounts.set(ns, n);
    else this.podCounts.delete(ns);
    this.reconsider(ns);
  }

  /** Adds `ns` to the targets or drops it (and its retry), as the watches now say. */
  private reconsider(ns: string): void {
    if (!this.listed || this.stopped) return;
    const meshed = isMeshed(this.views.get(ns), this.podCounts.has(ns));
    const state = this.targets.get(ns);
    if (!meshed) {
      this.waiting.delete(ns);
      if (!state) return;
      state.timer?.cancel();
      this.targets.delete(ns);
      this.admitWaiting();
      return;
    }
    if (state) return;
    const max = this.maxNamespaces();
    if (this.targets.size >= max) {
      this.waiting.add(ns);
      this.warn({ namespace: ns, code: 'bundle_distribution_full', max }, `more than ${max} meshed namespaces; this one gets no trust bundle ConfigMap until a place frees up`);
      return;
    }
    this.waiting.delete(ns);
    this.targets.set(ns, { written: undefined, backoff: new Backoff(DISTRIBUTE_BACKOFF, this.opts.random), timer: undefined, writing: false });
    this.sync(ns);
  }

  /** Gives the places free in the target set to namespaces that found it full, in the order they came. */
  private admitWaiting(): void {
    for (const ns of this.waiting) {
      if (this.targets.size >= this.maxNamespaces()) return;
      this.waiting.delete(ns);
      this.reconsider(ns);
    }
  }

  private maxNamespaces(): number {
    return this.opts.maxNamespaces ?? MAX_NAMESPACES;
  }

  private sync(ns: string): void {
    const state = this.targets.get(ns);
    const roots = this.roots;
    if (!state || roots === undefined || this.stopped || state.writing || state.written === roots) return;
    state.timer?.cancel();
    state.timer = undefined;
    state.writing = true;
    void this.write(ns, roots).then((ok) => {
      state.writing = false;
      if (this.targets.get(ns) !== state || this.stopped) return;
      if (ok) {
        state.written = roots;
        state.backoff.reset();
        this.sync(ns); // newer roots may have come meanwhile
      } else {
        state.timer = this.opts.clock.setTimeout(() => this.sync(ns), state.backoff.next());
      }
    });
  }

  /** Creates or updates the ConfigMap in `ns`; false (logged) when the API server did not take it. */
  private async write(ns: string, roots: string): Promise<boolean> {
    const { client } = this.opts;
    try {
      const got = await client.call('GET', cmPath(ns, TRUST_BUNDLE_CONFIGMAP));
      if (got.status === 404) {
        const res = await client.call('POST', cmPath(ns), {
          apiVersion: 'v1', kind: 'ConfigMap',
          metadata: { name: TRUST_BUNDLE_CONFIGMAP, namespace: ns, labels: { 'app.kubernetes.io/part-of': 'ztmesh', 'app.kubernetes.io/managed-by': MANAGED_BY } },
          data: { [TRUST_BUNDLE_KEY]: roots },
        });
        // 409: another webhook replica created it meanwhile; the retry compares its content.
        if (res.status === 409) throw new Error('create raced with another writer; retrying');
        if (res.status !== 201) throw new Error(`create: HTTP ${res.status}`);
        this.log.info({ namespace: ns }, 'trust bundle ConfigMap created');
      } else if (got.status === 200) {
        const current = (got.body as { data?: Record<string, string> } | undefined)?.data?.[TRUST_BUNDLE_KEY];
        if (current !== roots) {
          const res = await client.call('PATCH', cmPath(ns, TRUST_BUNDLE_CONFIGMAP), { data: { [TRUST_BUNDLE_KEY]: roots } }, 'application/merge-patch+json');
          if (res.status !== 200) throw new Error(`update: HTTP ${res.status}`);
          this.log.info({ namespace: ns }, 'trust bundle ConfigMap updated');
        }
      } else {
        throw new Error(`read: HTTP ${got.status}`);
      }
      return true;
    } catch (e) {
      this.warn({ namespace: ns, code: 'bundle_distribution_failed' }, `cannot write ConfigMap ${TRUST_BUNDLE_CONFIGMAP}: ${(e as Error).message}; retrying with backoff`);
      return false;
    }
  }

  private warn(fields: Record<string, unknown>, msg: string): void {
    const suppressed = this.throttle.admit();
    if (suppressed !== undefined) this.log.warn({ ...fields, ...(suppressed ? { suppressed } : {}) }, msg);
  }
}

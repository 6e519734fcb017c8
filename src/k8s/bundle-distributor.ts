// Copies the trust bundle into every namespace the webhook injects, as ConfigMap ztmesh-trust-bundle (roots.pem):
// a pod can only mount a ConfigMap from its own namespace. Like istiod's istio-ca-root-cert, it follows root rotation.
import type { Clock, TimerHandle } from '../common/clock.js';
import { Backoff } from '../common/backoff.js';
import type { Logger } from '../common/logger.js';
import { TRUST_BUNDLE_CONFIGMAP, TRUST_BUNDLE_KEY } from '../common/mesh.js';
import type { KubeClient } from './kube-client.js';

export const MANAGED_BY = 'ztmesh-webhook';
/** Retry policy for namespaces whose ConfigMap could not be written. */
export const DISTRIBUTE_BACKOFF = { initialMs: 1_000, multiplier: 2, maxMs: 60_000, jitter: 0.2 };

const cmPath = (ns: string, name?: string) => `/api/v1/namespaces/${encodeURIComponent(ns)}/configmaps${name ? `/${encodeURIComponent(name)}` : ''}`;

/** Keeps ztmesh-trust-bundle current in each namespace it has been told about. */
export class BundleDistributor {
  private roots: string | undefined;
  /** Namespace → the roots last written there (undefined: not yet). */
  private readonly namespaces = new Map<string, string | undefined>();
  private readonly inFlight = new Map<string, Promise<void>>();
  private readonly backoff: Backoff;
  private timer: TimerHandle | undefined;
  private stopped = false;
  private readonly log: Logger;

  constructor(private readonly opts: { client: KubeClient; clock: Clock; log: Logger; random?: () => number }) {
    this.backoff = new Backoff(DISTRIBUTE_BACKOFF, opts.random);
    this.log = opts.log.child({ component: 'bundle-distributor' });
  }

  /** New roots (PEM): every known namespace is brought up to date. */
  setRoots(pem: string): Promise<void> {
    this.roots = pem;
    return this.syncAll();
  }

  /** A pod in `namespace` was injected: make sure its ConfigMap exists and is current. Never throws. */
  ensure(namespace: string | undefined): Promise<void> {
    if (!namespace || this.stopped) return Promise.resolve();
    if (!this.namespaces.has(namespace)) this.namespaces.set(namespace, undefined);
    return this.sync(namespace);
  }

  stop(): void {
    this.stopped = true;
    this.timer?.cancel();
  }

  private async syncAll(): Promise<void> {
    await Promise.all([...this.namespaces.keys()].map((ns) => this.sync(ns)));
  }

  private sync(ns: string): Promise<void> {
    const roots = this.roots;
    if (roots === undefined || this.stopped || this.namespaces.get(ns) === roots) return Promise.resolve();
    const running = this.inFlight.get(ns);
    if (running) return running.then(() => this.sync(ns));
    const p = this.write(ns, roots).finally(() => this.inFlight.delete(ns));
    this.inFlight.set(ns, p);
    return p;
  }

  private async write(ns: string, roots: string): Promise<void> {
    const { client } = this.opts;
    try {
      const got = await client.call('GET', cmPath(ns, TRUST_BUNDLE_CONFIGMAP));
      if (got.status === 404) {
        const res = await client.call('POST', cmPath(ns), {
          apiVersion: 'v1', kind: 'ConfigMap',
          metadata: { name: TRUST_BUNDLE_CONFIGMAP, namespace: ns, labels: { 'app.kubernetes.io/part-of': 'ztmesh', 'app.kubernetes.io/managed-by': MANAGED_BY } },
          data: { [TRUST_BUNDLE_KEY]: roots },
        });
        // 409: another webhook replica created it meanwhile; the next sync compares its content.
        if (res.status !== 201 && res.status !== 409) throw new Error(`create: HTTP ${res.status}`);
        if (res.status === 409) throw new Error('create raced with another writer; retrying');
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
      this.namespaces.set(ns, roots);
      this.backoff.reset();
    } catch (e) {
      const delay = this.backoff.next();
      this.log.warn({ namespace: ns, code: 'bundle_distribution_failed', retryInMs: delay }, `cannot write ConfigMap ${TRUST_BUNDLE_CONFIGMAP}: ${(e as Error).message}`);
      this.timer?.cancel();
      this.timer = this.opts.clock.setTimeout(() => void this.syncAll(), delay);
    }
  }
}

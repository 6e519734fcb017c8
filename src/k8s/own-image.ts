// The image of the webhook's own container, read once at start from its pod through the API server: what the
// webhook injects unless --image names another. So the one image setting of an install (a kustomize `images:`
// entry, the Helm chart's `image`) is also the image of every sidecar (docs/design.md "Versions and the image").
//
// Invariants: never resolves to anything but the image the pod's spec names for that container; retries with capped
// backoff until it has it or is stopped (the webhook is not ready meanwhile); never logs the token.
import { Backoff, type BackoffPolicy } from '../common/backoff.js';
import type { Clock, TimerHandle } from '../common/clock.js';
import type { Logger } from '../common/logger.js';
import type { KubeClient } from './kube-client.js';

/** The webhook's container in its Deployment (deploy/kubernetes, the Helm chart). */
export const WEBHOOK_CONTAINER = 'webhook';
export const OWN_IMAGE_BACKOFF: BackoffPolicy = { initialMs: 1_000, multiplier: 2, maxMs: 30_000, jitter: 0.2 };

/** Where the webhook runs: from the downward API (POD_NAME, POD_NAMESPACE). */
export interface OwnPod {
  namespace: string;
  pod: string;
  container: string;
}

/** The image of `container` in a Pod object, or a reason it has none. Pure. */
export function containerImage(pod: unknown, container: string): { image: string } | { error: string } {
  const containers = (pod as { spec?: { containers?: { name?: unknown; image?: unknown }[] } } | undefined)?.spec?.containers;
  if (!Array.isArray(containers)) return { error: 'the pod has no spec.containers' };
  const c = containers.find((x) => x?.name === container);
  if (!c) return { error: `the pod has no container named ${container} (it has ${containers.map((x) => String(x?.name)).join(', ')})` };
  if (typeof c.image !== 'string' || c.image === '') return { error: `container ${container} names no image` };
  return { image: c.image };
}

/** Reads the image until it has it; `stop()` ends the retries (the promise then never settles). */
export function resolveOwnImage(opts: { client: KubeClient; own: OwnPod; clock: Clock; log: Logger; random?: () => number }): { image: Promise<string>; stop(): void } {
  const log = opts.log.child({ component: 'own-image', pod: `${opts.own.namespace}/${opts.own.pod}` });
  const backoff = new Backoff(OWN_IMAGE_BACKOFF, opts.random);
  let timer: TimerHandle | undefined;
  let stopped = false;
  const path = `/api/v1/namespaces/${encodeURIComponent(opts.own.namespace)}/pods/${encodeURIComponent(opts.own.pod)}`;
  const image = new Promise<string>((resolve) => {
    const attempt = async () => {
      if (stopped) return;
      let error: string;
      try {
        const r = await opts.client.call('GET', path);
        const got = r.status === 200 ? containerImage(r.body, opts.own.container) : { error: `GET ${path}: HTTP ${r.status}` };
        if ('image' in got) {
          log.info({ image: got.image }, 'webhook injects the image of its own container');
          resolve(got.image);
          return;
        }
        error = got.error;
      } catch (e) {
        error = (e as Error).message;
      }
      const delay = backoff.next();
      log.warn({ code: 'own_image_unavailable', retryInMs: delay }, `cannot read the image of its own pod (RBAC: get pods in ${opts.own.namespace}): ${error}`);
      if (!stopped) timer = opts.clock.setTimeout(() => void attempt(), delay);
    };
    void attempt();
  });
  return { image, stop: () => { stopped = true; timer?.cancel(); } };
}

// Keeps clientConfig.caBundle of the webhook's MutatingWebhookConfiguration equal to the ztmesh roots, so the
// API server trusts a serving certificate issued by the ztmesh CA, across root rotations.
import type { Clock, TimerHandle } from '../common/clock.js';
import { Backoff } from '../common/backoff.js';
import type { Logger } from '../common/logger.js';
import type { KubeClient } from './kube-client.js';

export const MWC_PATH = '/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/';
/** Retry policy when the API server refuses or is unreachable: 1 s doubling to 1 min. */
export const SYNC_BACKOFF = { initialMs: 1_000, multiplier: 2, maxMs: 60_000, jitter: 0.2 };

interface Mwc {
  webhooks?: { name?: string; clientConfig?: { caBundle?: string } }[];
}

/** The JSON Patch that sets every webhook's caBundle to `caBundle` (base64 PEM); empty when all match. */
export function caBundlePatch(mwc: Mwc, caBundle: string): { op: 'add' | 'replace'; path: string; value: string }[] {
  return (mwc.webhooks ?? []).flatMap((w, i) => {
    const current = w.clientConfig?.caBundle;
    if (current === caBundle) return [];
    return [{ op: current === undefined ? 'add' as const : 'replace' as const, path: `/webhooks/${i}/clientConfig/caBundle`, value: caBundle }];
  });
}

/** Pushes the latest roots to the named MutatingWebhookConfiguration, retrying with backoff until it sticks. */
export class CaBundleSync {
  private wanted: string | undefined;
  private timer: TimerHandle | undefined;
  private running = false;
  private stopped = false;
  private readonly backoff: Backoff;
  private readonly log: Logger;

  constructor(private readonly opts: { client: KubeClient; name: string; clock: Clock; log: Logger; random?: () => number }) {
    this.backoff = new Backoff(SYNC_BACKOFF, opts.random);
    this.log = opts.log.child({ component: 'ca-bundle-sync', webhookConfig: opts.name });
  }

  /** Sets the roots (PEM) to publish; resolves after this attempt (success or scheduled retry). */
  update(rootsPem: string): Promise<void> {
    this.wanted = Buffer.from(rootsPem, 'utf8').toString('base64');
    return this.sync();
  }

  stop(): void {
    this.stopped = true;
    this.timer?.cancel();
  }

  private async sync(): Promise<void> {
    if (this.running || this.stopped || this.wanted === undefined) return;
    this.running = true;
    this.timer?.cancel();
    const wanted = this.wanted;
    try {
      const path = MWC_PATH + encodeURIComponent(this.opts.name);
      const got = await this.opts.client.call('GET', path);
      if (got.status !== 200) throw new Error(`GET ${this.opts.name}: HTTP ${got.status}`);
      const patch = caBundlePatch(got.body as Mwc, wanted);
      if (patch.length) {
        const res = await this.opts.client.call('PATCH', path, patch, 'application/json-patch+json');
        if (res.status !== 200) throw new Error(`PATCH ${this.opts.name}: HTTP ${res.status}`);
        this.log.info({ webhooks: patch.length }, 'webhook caBundle updated to the current ztmesh roots');
      }
      this.backoff.reset();
    } catch (e) {
      const delay = this.backoff.next();
      this.log.warn({ code: 'ca_bundle_sync_failed', retryInMs: delay }, `cannot update caBundle: ${(e as Error).message}`);
      this.timer = this.opts.clock.setTimeout(() => void this.sync(), delay);
    } finally {
      this.running = false;
    }
    // A newer bundle arrived while we were busy.
    if (this.wanted !== wanted && !this.stopped) await this.sync();
  }
}

// A per-identity token bucket: each SPIFFE ID may sign `burst` times at once and `perSecond` on average.
// Time comes from the injected clock, so tests advance it instead of sleeping.
import type { Clock } from '../../common/clock.js';
import { PolicyError } from '../../common/errors.js';

/** Above this many tracked identities, full (idle) buckets are dropped. */
export const MAX_TRACKED_IDENTITIES = 10_000;

interface Bucket {
  tokens: number;
  atMs: number;
}

/** Token buckets keyed by SPIFFE ID. perSecond = 0 disables limiting. */
export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();

  constructor(
    private readonly perSecond: number,
    private readonly burst: number,
    private readonly clock: Clock,
  ) {}

  /** Takes one token for `id`; throws PolicyError `rate_limited` when the bucket is empty. */
  take(id: string): void {
    if (this.perSecond <= 0) return;
    const now = this.clock.now();
    let b = this.buckets.get(id);
    if (!b) {
      if (this.buckets.size >= MAX_TRACKED_IDENTITIES) this.prune(now);
      b = { tokens: this.burst, atMs: now };
      this.buckets.set(id, b);
    }
    b.tokens = Math.min(this.burst, b.tokens + ((now - b.atMs) / 1000) * this.perSecond);
    b.atMs = now;
    if (b.tokens < 1) {
      const waitMs = Math.ceil(((1 - b.tokens) / this.perSecond) * 1000);
      throw new PolicyError('rate_limited', `${id} is rate limited (${this.perSecond}/s, burst ${this.burst}); retry in ${waitMs} ms`);
    }
    b.tokens -= 1;
  }

  private prune(now: number): void {
    for (const [id, b] of this.buckets) {
      if (b.tokens + ((now - b.atMs) / 1000) * this.perSecond >= this.burst) this.buckets.delete(id);
    }
  }
}

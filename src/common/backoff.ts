// Exponential backoff with jitter and a cap, reset on success.
// Used by the rotation manager and the trust bundle watcher.

export interface BackoffPolicy {
  /** First delay in milliseconds. */
  initialMs: number;
  /** Growth factor per consecutive failure. */
  multiplier: number;
  /** Upper bound for the delay before jitter. */
  maxMs: number;
  /** Relative jitter, e.g. 0.2 for ±20%. */
  jitter: number;
}

/** The rotation retry policy (docs/sidecar.md "How rotation works"): start 1 s, factor 2, cap 30 s, ±20%. */
export const DEFAULT_BACKOFF: BackoffPolicy = { initialMs: 1_000, multiplier: 2, maxMs: 30_000, jitter: 0.2 };

/** The delay before retry number `attempt` (0-based), with `random` in [0,1). Pure. */
export function backoffDelay(policy: BackoffPolicy, attempt: number, random: number): number {
  const base = Math.min(policy.maxMs, policy.initialMs * Math.pow(policy.multiplier, Math.max(0, attempt)));
  const factor = 1 + policy.jitter * (2 * random - 1);
  return Math.round(base * factor);
}

/** Stateful helper: next() grows the delay, reset() returns to the start. */
export class Backoff {
  private attempt = 0;
  constructor(
    private readonly policy: BackoffPolicy = DEFAULT_BACKOFF,
    private readonly random: () => number = Math.random,
  ) {}

  /** The delay to wait now; each call counts one more failure. */
  next(): number {
    return backoffDelay(this.policy, this.attempt++, this.random());
  }

  reset(): void {
    this.attempt = 0;
  }

  get failures(): number {
    return this.attempt;
  }
}

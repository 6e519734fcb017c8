// Bounds how many lines a flood of refusals can write: at most `max` per window, then a count of those dropped.
// Time comes from the injected clock, so tests step through windows instead of sleeping.
import type { Clock } from './clock.js';

/** Default: 20 lines per 10 s window for one source of refusals. */
export const DEFAULT_LOG_THROTTLE = { max: 20, windowMs: 10_000 } as const;

/** A fixed-window line budget. */
export class LogThrottle {
  private windowStartMs = Number.NEGATIVE_INFINITY;
  private written = 0;
  private dropped = 0;

  constructor(
    private readonly clock: Clock,
    private readonly max: number = DEFAULT_LOG_THROTTLE.max,
    private readonly windowMs: number = DEFAULT_LOG_THROTTLE.windowMs,
  ) {}

  /**
   * Call once per line you would write. Returns undefined when the line must be dropped; otherwise the number of
   * lines dropped since the last one admitted (0 mostly), which the caller puts in the line it writes.
   */
  admit(): number | undefined {
    const now = this.clock.now();
    if (now - this.windowStartMs >= this.windowMs) {
      this.windowStartMs = now;
      this.written = 0;
    }
    if (this.written >= this.max) {
      this.dropped++;
      return undefined;
    }
    this.written++;
    const dropped = this.dropped;
    this.dropped = 0;
    return dropped;
  }
}

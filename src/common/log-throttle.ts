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

/** Keys a throttle keeps at most; past it they start over (a flood of distinct keys must not grow the map). */
export const MAX_THROTTLE_KEYS = 256;

/** One LogThrottle per key (a refusal code): each code gets its own budget, so one flood does not hide the others. */
export class KeyedLogThrottle {
  private readonly byKey = new Map<string, LogThrottle>();

  constructor(private readonly clock: Clock) {}

  /** As LogThrottle.admit, for the line of `key`. */
  admit(key: string): number | undefined {
    let t = this.byKey.get(key);
    if (!t) {
      if (this.byKey.size >= MAX_THROTTLE_KEYS) this.byKey.clear();
      t = new LogThrottle(this.clock);
      this.byKey.set(key, t);
    }
    return t.admit();
  }
}

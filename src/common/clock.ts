// The clock every time-dependent decision reads from.
// Injected everywhere so tests advance time instead of sleeping.

/** A handle returned by Clock.setTimeout. */
export interface TimerHandle {
  cancel(): void;
}

/** Wall-clock time plus timers; the only source of "now" in ztmesh. */
export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
  /** Runs fn after ms milliseconds unless cancelled. Never keeps the process alive. */
  setTimeout(fn: () => void, ms: number): TimerHandle;
}

/** The real clock, backed by Date.now and unref'd Node timers. */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout(fn, ms) {
    const t = setTimeout(fn, Math.max(0, ms));
    t.unref();
    return { cancel: () => clearTimeout(t) };
  },
};

/** Formats epoch milliseconds as an RFC 3339 UTC timestamp. */
export function isoTime(ms: number): string {
  return new Date(ms).toISOString();
}

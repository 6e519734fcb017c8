// Counts occurrences of keys in bounded memory and names the most frequent ones (the Space-Saving algorithm of
// Metwally et al.): at most `capacity` keys are held; a new key past that takes the place of the least counted one
// and inherits its count, so a heavy key is never lost and counts are over-estimates by at most that inheritance.
import type { Clock } from './clock.js';

/** One counted key. `error`: how much of `count` may be inherited from keys it replaced. */
export interface TopEntry {
  key: string;
  count: number;
  error: number;
  lastMs: number;
}

/** A bounded top-k counter. */
export class TopCounter {
  private readonly entries = new Map<string, TopEntry>();

  constructor(private readonly capacity: number, private readonly clock: Clock) {}

  /** Counts one occurrence of `key`. O(capacity) only when a new key replaces another. */
  add(key: string): void {
    const now = this.clock.now();
    const hit = this.entries.get(key);
    if (hit) {
      hit.count++;
      hit.lastMs = now;
      return;
    }
    if (this.entries.size < this.capacity) {
      this.entries.set(key, { key, count: 1, error: 0, lastMs: now });
      return;
    }
    let min: TopEntry | undefined;
    for (const e of this.entries.values()) if (!min || e.count < min.count) min = e;
    this.entries.delete(min!.key);
    this.entries.set(key, { key, count: min!.count + 1, error: min!.count, lastMs: now });
  }

  /** The `n` most counted keys, most first. */
  top(n: number): TopEntry[] {
    return [...this.entries.values()].sort((a, b) => b.count - a.count || b.lastMs - a.lastMs).slice(0, n).map((e) => ({ ...e }));
  }
}

// A manual clock for unit tests: advance() fires due timers in order, nothing sleeps.
import type { Clock, TimerHandle } from '../../src/common/clock.js';

interface Timer { at: number; fn: () => void; id: number; cancelled: boolean }

export class FakeClock implements Clock {
  private t: number;
  private timers: Timer[] = [];
  private nextId = 0;

  constructor(startMs = Date.UTC(2026, 10, 27, 12, 0, 0)) {
    this.t = startMs;
  }

  now(): number {
    return this.t;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const timer: Timer = { at: this.t + Math.max(0, ms), fn, id: this.nextId++, cancelled: false };
    this.timers.push(timer);
    return { cancel: () => { timer.cancelled = true; } };
  }

  /** Number of live timers (for assertions). */
  pendingTimers(): number[] {
    return this.timers.filter((t) => !t.cancelled).map((t) => t.at - this.t).sort((a, b) => a - b);
  }

  /** Moves time forward by ms, firing due timers in time order; awaits microtasks between timers. */
  async advance(ms: number): Promise<void> {
    const target = this.t + ms;
    for (;;) {
      await flush();
      const due = this.timers.filter((t) => !t.cancelled && t.at <= target).sort((a, b) => a.at - b.at || a.id - b.id)[0];
      if (!due) break;
      this.t = Math.max(this.t, due.at);
      due.cancelled = true;
      this.timers = this.timers.filter((t) => t !== due);
      due.fn();
    }
    this.t = target;
    await flush();
  }

  /** Sets the time directly without firing timers. */
  set(ms: number): void {
    this.t = ms;
  }
}

/** Lets pending promise callbacks (and one macrotask turn) run. */
export async function flush(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise<void>((r) => setImmediate(r));
}

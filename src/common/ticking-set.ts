// A set whose members are looked at together on one timer of the injected clock, every interval, while it holds any:
// the data path's periodic checks over what it watches (the liveness sweep, the tunnel handoff check).
// Invariants: at most one timer, running only while the set is open and not empty; a member removed is not looked at
// again; a tick that throws still schedules the next one.
import type { Clock, TimerHandle } from './clock.js';

export class TickingSet<T> {
  private readonly members = new Set<T>();
  private timer: TimerHandle | undefined;
  private closed = false;

  /** `tick` gets the live set each interval; it may delete members while it walks it. */
  constructor(private readonly clock: Clock, private readonly intervalMs: number, private readonly tick: (members: Set<T>) => void) {}

  get size(): number {
    return this.members.size;
  }

  /** Adds `m` until the returned function is called (or a tick deletes it). */
  add(m: T): () => void {
    if (this.closed) return () => {};
    this.members.add(m);
    this.schedule();
    return () => void this.members.delete(m);
  }

  /** Stops the timer and forgets every member; nothing is added after. */
  close(): void {
    this.closed = true;
    this.timer?.cancel();
    this.timer = undefined;
    this.members.clear();
  }

  private schedule(): void {
    if (this.timer || this.closed || this.members.size === 0) return;
    this.timer = this.clock.setTimeout(() => {
      this.timer = undefined;
      try {
        this.tick(this.members);
      } finally {
        this.schedule();
      }
    }, this.intervalMs);
  }
}

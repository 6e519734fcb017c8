// Readiness as a set of registered tasks, ready when none is pending; components register one at start and mark it
// done (or pending again) as state changes.

/** Tracks named pending parts; the process is ready when the set is empty. */
export class Readiness {
  private readonly pending = new Set<string>();

  /** Registers a part that must become ready; returns a handle to flip it. */
  register(name: string): { ready(): void; notReady(): void } {
    this.pending.add(name);
    return {
      ready: () => void this.pending.delete(name),
      notReady: () => void this.pending.add(name),
    };
  }

  isReady(): boolean {
    return this.pending.size === 0;
  }

  /** The names still pending, sorted for stable output. */
  pendingParts(): string[] {
    return [...this.pending].sort();
  }

  /** Both at once, as /readyz reports them. */
  report(): { ready: boolean; pending: string[] } {
    return { ready: this.isReady(), pending: this.pendingParts() };
  }
}

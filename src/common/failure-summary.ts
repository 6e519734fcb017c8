// Rate-limited logging of a failure that may repeat fast (a crash loop): the first one is logged at once,
// then at most one summary line per interval says how many more there were and the last reason.

/** What one log call gets: `first` for the opening line, else a summary of `count` failures since the last line. */
export type SummaryEmit = (entry: { first: boolean; count: number; last: string }) => void;

/** Counts failures and emits the first one, then one summary per `intervalMs` while they keep coming. */
export class FailureSummary {
  private pending = 0;
  private last = '';
  private timer: { cancel(): void } | undefined;

  constructor(
    private readonly clock: { setTimeout(fn: () => void, ms: number): { cancel(): void } },
    private readonly intervalMs: number,
    private readonly emit: SummaryEmit,
  ) {}

  /** One failure, with a short reason. */
  record(reason: string): void {
    if (!this.timer) {
      this.emit({ first: true, count: 1, last: reason });
      this.timer = this.clock.setTimeout(() => this.flush(), this.intervalMs);
      return;
    }
    this.pending++;
    this.last = reason;
  }

  stop(): void {
    this.timer?.cancel();
    this.timer = undefined;
  }

  private flush(): void {
    this.timer = undefined;
    if (this.pending === 0) return;
    this.emit({ first: false, count: this.pending, last: this.last });
    this.pending = 0;
    this.timer = this.clock.setTimeout(() => this.flush(), this.intervalMs);
  }
}

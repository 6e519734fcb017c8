// Keeps a flood of refusals from flooding the log: per key, the first lines of each window are logged in full,
// the rest only counted, and one summary line (with the sources seen most) closes the window.
import type { Clock, TimerHandle } from './clock.js';

export interface LogThrottleOptions {
  /** Length of one window. */
  windowMs: number;
  /** Lines per key logged in full in one window. */
  burst: number;
}

/** Ten full lines per key every ten seconds; the rest are summed up. */
export const DEFAULT_LOG_THROTTLE: LogThrottleOptions = { windowMs: 10_000, burst: 10 };
/** Distinct sources remembered per window for the summary, so a flood from many addresses stays bounded. */
export const MAX_SUMMARY_SOURCES = 1_000;
/** Sources named in a summary line. */
export const TOP_SOURCES = 5;

/** What the summary of one window says. */
export interface ThrottleSummary {
  key: string;
  /** Events counted but not logged in full. */
  suppressed: number;
  /** The sources seen most among them, most first. */
  topSources: { source: string; count: number }[];
  windowMs: number;
}

interface Window {
  startMs: number;
  logged: number;
  suppressed: number;
  sources: Map<string, number>;
  timer?: TimerHandle;
}

/** Decides, per event, whether to log it in full; reports the rest through `summary` when the window ends. */
export class LogThrottle {
  private readonly windows = new Map<string, Window>();

  constructor(
    private readonly clock: Clock,
    private readonly summary: (s: ThrottleSummary) => void,
    private readonly opts: LogThrottleOptions = DEFAULT_LOG_THROTTLE,
  ) {}

  /** True when this event should be logged in full; otherwise it is counted for the window's summary. */
  take(key: string, source: string): boolean {
    const now = this.clock.now();
    let w = this.windows.get(key);
    if (w && now - w.startMs >= this.opts.windowMs) {
      this.flush(key, w);
      w = undefined;
    }
    if (!w) {
      w = { startMs: now, logged: 0, suppressed: 0, sources: new Map() };
      this.windows.set(key, w);
    }
    if (w.logged < this.opts.burst) {
      w.logged++;
      return true;
    }
    w.suppressed++;
    if (w.sources.has(source) || w.sources.size < MAX_SUMMARY_SOURCES) w.sources.set(source, (w.sources.get(source) ?? 0) + 1);
    if (!w.timer) {
      const win = w;
      win.timer = this.clock.setTimeout(() => this.flush(key, win), win.startMs + this.opts.windowMs - now);
    }
    return false;
  }

  /** Reports what is still counted and cancels the timers (e.g. at shutdown). */
  stop(): void {
    for (const [key, w] of [...this.windows]) this.flush(key, w);
  }

  private flush(key: string, w: Window): void {
    w.timer?.cancel();
    if (this.windows.get(key) === w) this.windows.delete(key);
    if (w.suppressed === 0) return;
    const topSources = [...w.sources].sort((a, b) => b[1] - a[1]).slice(0, TOP_SOURCES).map(([source, count]) => ({ source, count }));
    const suppressed = w.suppressed;
    w.suppressed = 0;
    this.summary({ key, suppressed, topSources, windowMs: this.opts.windowMs });
  }
}

// Hands memory that glibc's malloc keeps after a burst back to the OS (malloc_trim through koffi). Node's
// native TLS state lives in glibc's main arena, where freed chunks below live ones stay resident until trimmed.
import type { Clock, TimerHandle } from './clock.js';
import { libcFunction } from './libc.js';
import type { Logger } from './logger.js';

/** Trims run at most this often; one costs 5–40 ms of the event loop after a flood, well under 1 ms otherwise. */
export const TRIM_MIN_INTERVAL_MS = 5_000;

/** Returns freed heap pages to the OS; true when some were. */
export type TrimFn = () => boolean;

/** glibc's malloc_trim(0) through koffi; throws where there is none (musl, macOS). */
export function loadMallocTrim(): TrimFn {
  const trim = libcFunction<(pad: number) => number>('int malloc_trim(size_t pad)');
  return () => trim(0) === 1;
}

export interface HeapTrimmerOptions {
  clock: Clock;
  log: Logger;
  /** Defaults to glibc's malloc_trim, loaded on the first trim; tests pass their own. */
  load?: () => TrimFn;
  minIntervalMs?: number;
}

/** Runs malloc_trim soon after a caller saw a burst end; calls coalesce and are spaced by minIntervalMs. */
export class HeapTrimmer {
  private trim: TrimFn | undefined;
  private unavailable = false;
  private timer: TimerHandle | undefined;
  private lastMs = -Infinity;
  private readonly minIntervalMs: number;

  constructor(private readonly opts: HeapTrimmerOptions) {
    this.minIntervalMs = opts.minIntervalMs ?? TRIM_MIN_INTERVAL_MS;
  }

  /** Asks for one trim: on the next turn of the event loop, or once minIntervalMs have passed since the last. */
  request(): void {
    if (this.timer || this.unavailable) return;
    const wait = Math.max(0, this.lastMs + this.minIntervalMs - this.opts.clock.now());
    this.timer = this.opts.clock.setTimeout(() => this.run(), wait);
  }

  close(): void {
    this.timer?.cancel();
    this.timer = undefined;
  }

  private run(): void {
    this.timer = undefined;
    this.lastMs = this.opts.clock.now();
    try {
      this.trim ??= (this.opts.load ?? loadMallocTrim)();
    } catch (err) {
      this.unavailable = true;
      this.opts.log.info({ err: (err as Error).message }, 'malloc_trim is not available here; memory freed after floods stays with the process');
      return;
    }
    const before = process.memoryUsage.rss();
    const started = process.hrtime.bigint();
    const released = this.trim();
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    const after = process.memoryUsage.rss();
    // info: at most one line per minIntervalMs, and only after a burst; says what a flood cost and what came back.
    this.opts.log.info({ released, ms: Math.round(ms * 10) / 10, rssBeforeMb: mb(before), rssAfterMb: mb(after) }, 'returned freed native memory to the OS');
  }
}

function mb(bytes: number): number {
  return Math.round(bytes / 104_857.6) / 10;
}

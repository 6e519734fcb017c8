// Watches named files of the CA state directory and reloads them (debounced, serialised) when one changes: fs.watch
// on the directory (which sees the kubelet's `..data` symlink swap) reacts at once, a stat poll catches what it misses.
import { watch, promises as fs, type FSWatcher } from 'node:fs';
import path from 'node:path';
import type { Clock, TimerHandle } from '../common/clock.js';
import { describe } from '../common/errors.js';
import type { Logger } from '../common/logger.js';

/** How often the fallback poll stats the files. */
export const DIR_POLL_MS = 1_000;
/** fs.watch fires several events per write; wait this long for the writer to finish. */
export const DIR_DEBOUNCE_MS = 50;

export interface DirWatchOptions<T> {
  dir: string;
  /** File names inside `dir`; a change to any of them (or to the kubelet's `..data`) reads them again. */
  names: readonly string[];
  clock: Clock;
  log: Logger;
  /** Reads and checks the files completely; a throw refuses them and what is in force stays. */
  read: () => Promise<T>;
  /** Applies what `read` built (build completely, then swap). Runs serialised with reads, never twice at once. */
  apply: (value: T) => Promise<void> | void;
  /** The warn line of a refused read: its message and the fields naming what was refused (the code is added). */
  refused: { message: string; fields: Record<string, unknown> };
  pollMs?: number;
}

/** The files' identity as the poll sees it: inode, size and mtime of each (or "missing"). */
export async function statKey(dir: string, names: readonly string[]): Promise<string> {
  const parts = await Promise.all(names.map(async (n) => {
    const st = await fs.stat(path.join(dir, n)).catch(() => undefined);
    return st ? `${st.ino}:${st.size}:${st.mtimeMs}` : 'missing';
  }));
  return parts.join('|');
}

/** Watches `names` in `dir` and reads and applies them (serialised) when they change; reload() does it now. */
export class DirWatch<T> {
  private watcher: FSWatcher | undefined;
  private pollTimer: TimerHandle | undefined;
  private debounce: NodeJS.Timeout | undefined;
  private seen = '';
  private closed = false;
  private running: Promise<void> = Promise.resolve();

  constructor(private readonly opts: DirWatchOptions<T>) {}

  /** Records the files' state now (what the caller just read at start) and starts watching. */
  async start(): Promise<void> {
    this.seen = await statKey(this.opts.dir, this.opts.names);
    this.watch();
  }

  /** Reads and applies the files now, after any run in progress; the poll then fires only on later changes. */
  reload(): Promise<void> {
    this.running = this.running.then(async () => {
      if (this.closed) return;
      try {
        this.seen = await statKey(this.opts.dir, this.opts.names);
        let value: T;
        try {
          value = await this.opts.read();
        } catch (e) {
          const { code, message } = describe(e);
          this.opts.log.warn({ code, ...this.opts.refused.fields, err: message }, this.opts.refused.message);
          return;
        }
        await this.opts.apply(value);
      } catch (e) {
        // A failed load must not stop later ones: the next change is read again.
        this.opts.log.error({ dir: this.opts.dir, err: (e as Error).message }, 'reloading the CA files failed; keeping what is in force');
      }
    });
    return this.running;
  }

  close(): void {
    this.closed = true;
    this.watcher?.close();
    this.pollTimer?.cancel();
    if (this.debounce) clearTimeout(this.debounce);
  }

  private watch(): void {
    const { dir, names, log } = this.opts;
    try {
      this.watcher = watch(dir, { persistent: false }, (_event, changed) => {
        if (changed !== null && !names.includes(String(changed)) && !String(changed).startsWith('..')) return;
        if (this.debounce) clearTimeout(this.debounce);
        this.debounce = setTimeout(() => void this.reload(), DIR_DEBOUNCE_MS);
        this.debounce.unref();
      });
      this.watcher.on('error', (e) => log.warn({ dir, err: e.message }, 'fs.watch failed; relying on the poll'));
    } catch (e) {
      log.warn({ dir, err: (e as Error).message }, 'fs.watch unavailable; relying on the poll');
    }
    const poll = () => {
      if (this.closed) return;
      void statKey(dir, names).then((k) => (k !== this.seen ? this.reload() : undefined)).finally(() => {
        if (!this.closed) this.pollTimer = this.opts.clock.setTimeout(poll, this.opts.pollMs ?? DIR_POLL_MS);
      });
    };
    this.pollTimer = this.opts.clock.setTimeout(poll, this.opts.pollMs ?? DIR_POLL_MS);
  }
}

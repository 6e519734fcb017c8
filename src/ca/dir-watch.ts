// Watches files of a directory the CA reads (its state directory, --policy-dir) and reloads them (debounced,
// serialised) when one changes: fs.watch on the directory (which sees the kubelet's `..data` symlink swap) reacts at
// once, a stat poll catches what it misses. The files are named, or chosen by a predicate over the directory's names.
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
  /** File names inside `dir`, or which of its names count; a change to any of them (or to the kubelet's `..data`) reads them again. */
  names: FileNames;
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

/** Named files, or a predicate choosing files by name among a directory's entries. */
export type FileNames = readonly string[] | ((name: string) => boolean);

/** The names `names` stands for now: the list itself, or the directory's entries it chooses, sorted. */
export async function listNames(dir: string, names: FileNames): Promise<string[]> {
  if (typeof names !== 'function') return [...names];
  return (await fs.readdir(dir)).filter((n) => !n.startsWith('.') && names(n)).sort();
}

/** The files' identity as the poll sees it: inode, size and mtime of each (or "missing"). */
export async function statKey(dir: string, names: FileNames): Promise<string> {
  const list = await listNames(dir, names).catch(() => undefined);
  if (!list) return 'no directory';
  const parts = await Promise.all(list.map(async (n) => {
    const st = await fs.stat(path.join(dir, n)).catch(() => undefined);
    return `${n}=${st ? `${st.ino}:${st.size}:${st.mtimeMs}` : 'missing'}`;
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
        const name = changed === null ? undefined : String(changed);
        if (name !== undefined && !name.startsWith('..') && !(typeof names === 'function' ? names(name) : names.includes(name))) return;
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

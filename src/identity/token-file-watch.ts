// Notices when the token file changes (a new join token dropped in, the kubelet's rotation), so that an identity
// waiting out a backoff with a refused token tries the new one at once instead of after a restart or 30 s.
//
// Invariants: one stat() per interval on the injected clock, never overlapping; the first reading is the baseline
// (no call); a file that disappears and comes back counts as a change; errors are readings, never thrown.
import { stat } from 'node:fs/promises';
import type { Clock, TimerHandle } from '../common/clock.js';

/** How often the token file is looked at. */
export const TOKEN_POLL_MS = 1_000;

/** Watches `file` from start() until stop(), calling `onChange` after each change it sees. */
export class TokenFileWatch {
  private timer: TimerHandle | undefined;
  private last: string | undefined;
  private stopped = false;

  constructor(private readonly opts: { file: string; clock: Clock; onChange: () => void; intervalMs?: number }) {}

  start(): void {
    void this.poll(true);
  }

  stop(): void {
    this.stopped = true;
    this.timer?.cancel();
  }

  private async poll(first: boolean): Promise<void> {
    let seen: string;
    try {
      // Inode, size and mtime: an atomic rename, a rewrite in place and the kubelet's symlink swap all change one.
      const st = await stat(this.opts.file);
      seen = `${st.ino}:${st.size}:${st.mtimeMs}`;
    } catch (e) {
      seen = `missing:${(e as NodeJS.ErrnoException).code ?? 'error'}`;
    }
    if (this.stopped) return;
    const changed = !first && seen !== this.last;
    this.last = seen;
    if (changed) this.opts.onChange();
    this.timer = this.opts.clock.setTimeout(() => void this.poll(false), this.opts.intervalMs ?? TOKEN_POLL_MS);
  }
}

// Whether the process's working directory still exists. Node caches process.cwd(), so a removed directory goes
// unnoticed until something (a worker thread, a relative path) needs it; this asks the file system instead.
import { readlinkSync, statSync } from 'node:fs';

/** A message naming the removed working directory, or undefined while it exists. */
export function workingDirProblem(): string | undefined {
  try {
    if (statSync('.').nlink > 0) return undefined;
  } catch {
    // cannot stat ".": treat as gone
  }
  let where = '';
  try {
    where = ` ${readlinkSync('/proc/self/cwd').replace(/ \(deleted\)$/, '')}`;
  } catch {
    // not Linux: no name to show
  }
  return `the working directory${where} was removed`;
}

/** Checks every `intervalMs`; calls `onGone` once with the message when the directory is removed. Returns stop(). */
export function watchWorkingDir(clock: { setTimeout(fn: () => void, ms: number): { cancel(): void } }, intervalMs: number, onGone: (problem: string) => void): () => void {
  let timer: { cancel(): void } | undefined;
  const check = () => {
    const problem = workingDirProblem();
    if (problem) onGone(problem);
    else timer = clock.setTimeout(check, intervalMs);
  };
  timer = clock.setTimeout(check, intervalMs);
  return () => timer?.cancel();
}

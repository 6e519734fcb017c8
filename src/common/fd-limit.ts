// The process's open-file limit (RLIMIT_NOFILE soft limit), read from /proc/self/limits on Linux, so listeners can
// keep their connection caps below it and never run out of descriptors for files, probes and the admin port.
import { readFile } from 'node:fs/promises';

/** The soft "Max open files" limit in a /proc/<pid>/limits text; undefined when absent or unlimited. */
export function parseNofileLimit(text: string): number | undefined {
  const m = /^Max open files\s+(\S+)\s+(\S+)/m.exec(text);
  if (!m || m[1] === 'unlimited') return undefined;
  const n = Number(m[1]);
  return Number.isSafeInteger(n) && n > 0 ? n : undefined;
}

/** The soft open-file limit of this process, or undefined where /proc is not available. */
export async function readNofileLimit(file = '/proc/self/limits'): Promise<number | undefined> {
  const text = await readFile(file, 'utf8').catch(() => undefined);
  return text === undefined ? undefined : parseNofileLimit(text);
}

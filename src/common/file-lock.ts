// An exclusive advisory lock on an open file (flock(2) through koffi), held until the descriptor is closed or the
// process dies, so a crashed holder never leaves a stale lock behind.
import { createRequire } from 'node:module';

/** What trying the lock found: held by us now, held by another open file (process), or no flock() here. */
export type LockResult = 'locked' | 'busy' | 'unsupported';

const LOCK_EX = 2;
const LOCK_NB = 4;

interface Koffi {
  load(name: string): { func(proto: string): (fd: number, op: number) => number };
  errno(): number;
  os: { errno: Record<string, number> };
}

/** Tries to lock `fd` exclusively without waiting (called once per file opened, so nothing is cached here). */
export function tryLockExclusive(fd: number): LockResult {
  let koffi: Koffi;
  let flock: (fd: number, op: number) => number;
  try {
    koffi = createRequire(import.meta.url)('koffi') as Koffi;
    flock = koffi.load('libc.so.6').func('int flock(int fd, int op)');
  } catch {
    return 'unsupported';
  }
  if (flock(fd, LOCK_EX | LOCK_NB) === 0) return 'locked';
  const err = koffi.errno();
  return err === koffi.os.errno.EWOULDBLOCK || err === koffi.os.errno.EAGAIN ? 'busy' : 'unsupported';
}

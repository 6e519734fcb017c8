// A small tmpfs for tests that need a disk that fills up (test/privileged/): mounted on a fresh temp directory,
// unmounted and removed by the returned function, which the test calls in afterAll even when it failed.
//
//   const disk = mountTmpfs(64 * 1024);   // disk.dir; throws when it cannot mount
//   disk.remove();                        // umount, then rmdir
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Why a tmpfs cannot be mounted here, or undefined when it can (CI runs as root). */
export function tmpfsSkipReason(): string | undefined {
  if (process.platform !== 'linux') return `needs Linux tmpfs (this is ${process.platform})`;
  if (process.getuid?.() !== 0) return 'needs root to mount a tmpfs; CI runs as root';
  return undefined;
}

/** Mounts a tmpfs of `sizeBytes` (rounded to pages by the kernel) on a new directory. */
export function mountTmpfs(sizeBytes: number): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'ztmesh-tmpfs-'));
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeBytes},mode=0700`, 'tmpfs', dir], { encoding: 'utf8' });
  if (r.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`mount -t tmpfs on ${dir} failed: ${r.stderr.trim()}`);
  }
  return {
    dir,
    remove: () => {
      const u = spawnSync('umount', [dir], { encoding: 'utf8' });
      if (u.status !== 0) spawnSync('umount', ['-l', dir]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

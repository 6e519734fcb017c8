// A directory laid out as the kubelet mounts a Secret (keys behind a `..data` symlink swapped in one rename), and the
// kubectl steps of docs/ca.md "Root rotation on Kubernetes" done on files.
import { lstatSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, symlinkSync, unlinkSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';

export class SecretVolume {
  private generation = 0;
  constructor(readonly dir: string) {
    mkdirSync(dir, { recursive: true });
  }

  /** Replaces the volume's content with `data` (key → bytes) atomically, like `kubectl replace` then a kubelet sync. */
  apply(data: Record<string, Buffer>): void {
    const previous = existsSync(join(this.dir, '..data')) ? readdirSync(this.dir).filter((n) => n.startsWith('..') && n !== '..data') : [];
    const ts = `..2026_11_28_00_00_00.${process.pid}${this.generation++}`;
    mkdirSync(join(this.dir, ts));
    for (const [k, v] of Object.entries(data)) writeFileSync(join(this.dir, ts, k), v, { mode: 0o440 });
    symlinkSync(ts, join(this.dir, '..data_tmp'));
    renameSync(join(this.dir, '..data_tmp'), join(this.dir, '..data'));
    for (const k of Object.keys(data)) if (!existsSync(join(this.dir, k))) symlinkSync(join('..data', k), join(this.dir, k));
    for (const n of readdirSync(this.dir)) {
      if (!n.startsWith('..') && !(n in data) && lstatSync(join(this.dir, n)).isSymbolicLink()) unlinkSync(join(this.dir, n));
    }
    for (const p of previous) rmSync(join(this.dir, p), { recursive: true, force: true });
  }

  /** The keys the volume holds now. */
  keys(): string[] {
    return readdirSync(this.dir).filter((n) => !n.startsWith('..') && lstatSync(join(this.dir, n)).isSymbolicLink()).sort();
  }
}

/** `kubectl get secret -o go-template='{{index .data "<key>" | base64decode}}' > DIR/<key>` for every key, under umask 077. */
export function unpackSecret(secret: { data: Record<string, string> }, dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  for (const [k, v] of Object.entries(secret.data)) writeFileSync(join(dir, k), Buffer.from(v, 'base64'), { mode: 0o600 });
}

/** `kubectl create secret generic --from-file=DIR/`: one key per regular file in DIR (directories are skipped). */
export function secretFromDir(dir: string): Record<string, Buffer> {
  const data: Record<string, Buffer> = {};
  for (const n of readdirSync(dir)) if (lstatSync(join(dir, n)).isFile()) data[n] = readFileSync(join(dir, n));
  return data;
}

// Small file helpers: secrets are written atomically with mode 0600.
import { promises as fs } from 'node:fs';
import path from 'node:path';

/** Writes a file atomically (temp + rename) with the given mode. */
export async function writeFileAtomic(file: string, data: string | Buffer, mode = 0o644): Promise<void> {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${Date.now()}.tmp`);
  await fs.writeFile(tmp, data, { mode });
  await fs.chmod(tmp, mode);
  await fs.rename(tmp, file);
}

/** Writes a private key or token file: mode 0600, never world-readable even briefly. */
export function writeSecretFile(file: string, data: string | Buffer): Promise<void> {
  return writeFileAtomic(file, data, 0o600);
}

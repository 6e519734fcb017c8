// Where a command puts a secret it prints (manifests holding the CA key, a join token): a file written 0600, or
// stdout, whose file, when it is a shell redirect (`> file`), is made 0600 before the secret is written into it.
// A file that exists is replaced only when it holds what this command writes: nothing else is ever overwritten.
import { fchmodSync, fstatSync, promises as fs } from 'node:fs';
import { ConfigError } from '../common/errors.js';
import { writeSecretFile } from '../common/files.js';

export interface SecretOutput {
  /** The file to write; undefined for stdout. */
  file?: string | undefined;
  /** The flag that named it, for errors ("--out"). */
  flag: string;
  /** What the output is, for errors ("join token"). */
  what: string;
  /** Whether an existing file holds a previous output of the same kind (and may be replaced); default: never. */
  replaceable?: (existing: string) => boolean;
}

/**
 * Throws ConfigError `output_exists` when `out.file` exists and does not hold what this command writes. Commands call
 * it before they do their work (mint a token, make a CA), so a refused file leaves nothing half done.
 */
export async function checkSecretOutput(out: SecretOutput): Promise<void> {
  if (out.file === undefined) return;
  let existing: string | undefined;
  try {
    existing = await fs.readFile(out.file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new ConfigError('output_unwritable', `${out.flag} ${out.file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  }
  if (existing !== undefined && !out.replaceable?.(existing)) {
    const held = out.replaceable ? ` and does not hold a ${out.what}` : '';
    throw new ConfigError('output_exists', `${out.flag} ${out.file}: the file exists${held}; remove it or name another file`);
  }
}

/** Writes `text` as `out` says, after checkSecretOutput. */
export async function writeSecretOutput(text: string, out: SecretOutput): Promise<void> {
  if (out.file === undefined) {
    restrictStdoutFile();
    process.stdout.write(text);
    return;
  }
  await checkSecretOutput(out);
  try {
    await writeSecretFile(out.file, text);
  } catch (e) {
    throw new ConfigError('output_unwritable', `${out.flag} ${out.file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

/** stdout redirected to a regular file (`> secret.yaml`) gets mode 0600, so a secret never lands world-readable. */
function restrictStdoutFile(): void {
  try {
    if (fstatSync(1).isFile()) fchmodSync(1, 0o600);
  } catch {
    // Not ours to change (another user's file): the write still goes where the shell sent it.
  }
}

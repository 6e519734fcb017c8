// Keeps the current SVID and its key in a directory (identity.stateDir), so that a sidecar restarted outside
// Kubernetes renews with the certificate it held instead of needing a new single-use join token.
import { promises as fs, constants as fsConstants } from 'node:fs';
import path from 'node:path';
import type { KeyObject } from 'node:crypto';
import { ConfigError } from '../common/errors.js';
import { writeFileAtomic, writeSecretFile } from '../common/files.js';
import { certsFromPem, loadPrivateKey } from '../pki/index.js';
import type { Svid } from './credentials.js';

/** File names inside the state directory. */
export const SVID_FILES = { chain: 'svid.pem', key: 'svid.key' } as const;

/** What was kept: the chain (leaf first) and its key, to be checked by the caller before use. */
export interface StoredSvid {
  chainDer: Buffer[];
  key: KeyObject;
}

/** Where the identity manager keeps and finds its SVID across restarts. */
export interface SvidStorage {
  /** The kept SVID, or undefined when there is none; throws when one is there but cannot be read. */
  load(): Promise<StoredSvid | undefined>;
  /** Keeps `svid`: the key (mode 0600) first, then the chain, each written atomically (temp file + rename). */
  save(svid: Svid): Promise<void>;
  /** For log lines. */
  readonly dir: string;
}

/** An SvidStorage on the local file system. */
export class SvidStore implements SvidStorage {
  constructor(readonly dir: string) {}

  /** Creates the directory (0700) if needed and checks that it is writable; ConfigError naming identity.stateDir. */
  async prepare(): Promise<void> {
    try {
      await fs.mkdir(this.dir, { recursive: true, mode: 0o700 });
      await fs.access(this.dir, fsConstants.W_OK | fsConstants.X_OK);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      const why = code === 'EEXIST' || code === 'ENOTDIR' ? 'a file is in the way' : code === 'EACCES' || code === 'EPERM' ? 'not writable' : (code ?? (e as Error).message);
      throw new ConfigError('state_dir_unusable', `identity.stateDir "${this.dir}": cannot keep the SVID there: ${why}`, { cause: e });
    }
  }

  async load(): Promise<StoredSvid | undefined> {
    const read = (name: string) => fs.readFile(path.join(this.dir, name), 'utf8').catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') return undefined;
      throw e;
    });
    const [chainPem, keyPem] = await Promise.all([read(SVID_FILES.chain), read(SVID_FILES.key)]);
    if (chainPem === undefined || keyPem === undefined) return undefined;
    return {
      chainDer: certsFromPem(chainPem, path.join(this.dir, SVID_FILES.chain)),
      key: loadPrivateKey(keyPem, path.join(this.dir, SVID_FILES.key)),
    };
  }

  async save(svid: Svid): Promise<void> {
    // A crash between the two writes leaves a key that does not match the chain: load()'s caller checks the pair.
    await writeSecretFile(path.join(this.dir, SVID_FILES.key), svid.keyPem);
    await writeFileAtomic(path.join(this.dir, SVID_FILES.chain), svid.chainPem, 0o644);
  }
}

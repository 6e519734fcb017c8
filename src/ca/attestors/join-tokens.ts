// Join tokens: single-use, expiring bearer secrets that map to one SPIFFE ID.
// Only a SHA-256 hash is stored (tokens/<hash>.json); use is an atomic link() into tokens/used/,
// so a token stays single-use even when several CA replicas share the directory.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { AttestationError } from '../../common/errors.js';
import { writeSecretFile } from '../../common/files.js';

import { JOIN_TOKEN_PREFIX } from '../../common/mesh.js';

export { JOIN_TOKEN_PREFIX };
/** Random bytes per token (256 bits). */
export const JOIN_TOKEN_BYTES = 32;
const TOKEN_SHAPE = /^ztjt_[A-Za-z0-9_-]{43}$/;
/** Names of the records ztmesh writes; pruning touches nothing else. */
const RECORD_NAME = /^[0-9a-f]{64}\.json$/;
/**
 * How long past its expiry a record is kept before pruning, so that a replica finishing a signature with a token
 * it checked just before expiry, or a replica whose clock runs ahead, never races the pruner.
 */
export const PRUNE_GRACE_MS = 10 * 60_000;

/** What is stored per token: never the token itself. */
export interface JoinTokenRecord {
  spiffeId: string;
  createdAtMs: number;
  expiresAtMs: number;
}

/** True when `text` looks like a join token (not proof that it is valid). */
export function isJoinToken(text: string): boolean {
  return text.startsWith(JOIN_TOKEN_PREFIX);
}

/** The stored name of a token: hex SHA-256. */
export function tokenHash(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** File-backed token store under `<dir>/tokens`. */
export class JoinTokenStore {
  private readonly root: string;
  private readonly usedDir: string;

  constructor(caDir: string) {
    this.root = path.join(caDir, 'tokens');
    this.usedDir = path.join(this.root, 'used');
  }

  /** Mints a token for `spiffeId`; the caller shows it once and forgets it. */
  async create(spiffeId: string, ttlMs: number, nowMs: number): Promise<{ token: string; record: JoinTokenRecord }> {
    await fs.mkdir(this.usedDir, { recursive: true, mode: 0o700 });
    const token = JOIN_TOKEN_PREFIX + randomBytes(JOIN_TOKEN_BYTES).toString('base64url');
    const record: JoinTokenRecord = { spiffeId, createdAtMs: nowMs, expiresAtMs: nowMs + ttlMs };
    await writeSecretFile(this.file(tokenHash(token)), `${JSON.stringify(record)}\n`);
    return { token, record };
  }

  /**
   * Looks a token up without using it. Throws AttestationError `unknown_token`, `token_reused` or `token_expired`.
   * Returns the record and the hash to pass to consume().
   */
  async check(token: string, nowMs: number): Promise<{ hash: string; record: JoinTokenRecord }> {
    if (!TOKEN_SHAPE.test(token)) throw new AttestationError('unknown_token', 'join token is not known to this CA');
    const hash = tokenHash(token);
    let text: string;
    try {
      text = await fs.readFile(this.file(hash), 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      throw await this.missing(hash);
    }
    const record = JSON.parse(text) as JoinTokenRecord;
    if (nowMs >= record.expiresAtMs) {
      throw new AttestationError('token_expired', `join token for ${record.spiffeId} expired at ${new Date(record.expiresAtMs).toISOString()}`);
    }
    return { hash, record };
  }

  /** Uses a token up, atomically across processes. Throws `token_reused` when someone else got there first. */
  async consume(hash: string): Promise<void> {
    try {
      await fs.mkdir(this.usedDir, { recursive: true, mode: 0o700 });
      // link() fails with EEXIST when the token was already used, even by a replica on another host sharing the dir.
      await fs.link(this.file(hash), path.join(this.usedDir, `${hash}.json`));
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') throw await this.missing(hash);
      if (code === 'EEXIST') throw new AttestationError('token_reused', 'join token was already used');
      throw e;
    }
    await fs.unlink(this.file(hash)).catch(() => undefined);
  }

  /**
   * Deletes the records of tokens that expired more than PRUNE_GRACE_MS ago, unused ones first and then the used
   * markers. Safe while other replicas share the directory: an expired token is refused whether or not its record
   * is still there, and a record two replicas both delete is simply gone. Returns how many files were removed.
   */
  async prune(nowMs: number): Promise<number> {
    let removed = 0;
    for (const dir of [this.root, this.usedDir]) {
      let names: string[];
      try {
        names = await fs.readdir(dir);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue;
        throw e;
      }
      for (const name of names) {
        if (!RECORD_NAME.test(name)) continue;
        const file = path.join(dir, name);
        const expiresAtMs = await fs.readFile(file, 'utf8').then((t) => (JSON.parse(t) as Partial<JoinTokenRecord>).expiresAtMs).catch(() => undefined);
        if (typeof expiresAtMs !== 'number' || nowMs < expiresAtMs + PRUNE_GRACE_MS) continue;
        await fs.unlink(file).then(() => removed++, (e: NodeJS.ErrnoException) => {
          if (e.code !== 'ENOENT') throw e;
        });
      }
    }
    return removed;
  }

  private async missing(hash: string): Promise<AttestationError> {
    const used = await fs.stat(path.join(this.usedDir, `${hash}.json`)).then(() => true, () => false);
    return used
      ? new AttestationError('token_reused', 'join token was already used')
      : new AttestationError('unknown_token', 'join token is not known to this CA');
  }

  private file(hash: string): string {
    return path.join(this.root, `${hash}.json`);
  }
}

// The sidecar's JWT-SVIDs, one per audience set: a token is served from the cache until its half-life, then a new one
// is asked of the CA (SignJwtSvid); while the CA cannot answer, the cached token is served until it expires.
//
// Invariants: one CA call at a time per audience set (callers join it); at most MAX_CACHED_JWT_SVIDS entries, the
// least recently used going first; an entry is never served past its exp; tokens are never logged.
import { decodeJwt } from 'jose';
import type { Clock } from '../common/clock.js';
import { WorkloadApiError, describe } from '../common/errors.js';
import type { Logger } from '../common/logger.js';
import { REFRESH_FRACTION } from '../common/refresh.js';

/** Audience sets remembered at once. */
export const MAX_CACHED_JWT_SVIDS = 256;

export interface CachedJwtSvid {
  token: string;
  spiffeId: string;
  issuedAtMs: number;
  expiresAtMs: number;
}

/** When a cached token is renewed: at REFRESH_FRACTION (half) of its lifetime, as X.509-SVIDs are. Pure. */
export function jwtRefreshAtMs(t: Pick<CachedJwtSvid, 'issuedAtMs' | 'expiresAtMs'>): number {
  return t.issuedAtMs + (t.expiresAtMs - t.issuedAtMs) * REFRESH_FRACTION;
}

/** The cache key of an audience set: order and repeats do not matter. Pure. */
export function audienceKey(audiences: readonly string[]): string {
  return [...new Set(audiences)].sort().join('\n');
}

export interface JwtSvidCacheOptions {
  /** Asks the CA for a token for these audiences (identity/workload-identity.ts signJwtSvid). */
  sign: (audiences: readonly string[]) => Promise<{ token: string }>;
  clock: Clock;
  log: Logger;
  maxEntries?: number;
}

/** JWT-SVIDs by audience set. */
export class JwtSvidCache {
  private readonly entries = new Map<string, CachedJwtSvid>();
  private readonly inFlight = new Map<string, Promise<CachedJwtSvid>>();
  private fetched = 0;
  private served = 0;

  constructor(private readonly opts: JwtSvidCacheOptions) {}

  /** A token for `audiences` naming `spiffeId`; WorkloadApiError `ca_unavailable` when none can be had. */
  async get(audiences: readonly string[], spiffeId: string): Promise<CachedJwtSvid & { cached: boolean }> {
    const key = `${spiffeId}\n${audienceKey(audiences)}`;
    const now = this.opts.clock.now();
    const hit = this.entries.get(key);
    if (hit && now < hit.expiresAtMs) {
      this.entries.delete(key);
      this.entries.set(key, hit);
      if (now < jwtRefreshAtMs(hit)) {
        this.served++;
        return { ...hit, cached: true };
      }
    }
    try {
      return { ...(await this.fetch(key, audiences, spiffeId)), cached: false };
    } catch (e) {
      const still = this.entries.get(key);
      if (still && this.opts.clock.now() < still.expiresAtMs) {
        this.opts.log.warn({ code: describe(e).code, err: describe(e).message, expiresAt: new Date(still.expiresAtMs).toISOString() }, 'JWT-SVID not renewed; serving the cached one until it expires');
        this.served++;
        return { ...still, cached: true };
      }
      throw e;
    }
  }

  /** Counters for /status. */
  stats(): { cached: number; fetched: number; servedFromCache: number } {
    return { cached: this.entries.size, fetched: this.fetched, servedFromCache: this.served };
  }

  private fetch(key: string, audiences: readonly string[], spiffeId: string): Promise<CachedJwtSvid> {
    let p = this.inFlight.get(key);
    if (!p) {
      p = this.fetchOnce(key, audiences, spiffeId).finally(() => this.inFlight.delete(key));
      this.inFlight.set(key, p);
    }
    return p;
  }

  private async fetchOnce(key: string, audiences: readonly string[], spiffeId: string): Promise<CachedJwtSvid> {
    let token: string;
    try {
      ({ token } = await this.opts.sign(audiences));
    } catch (e) {
      const { code, message } = describe(e);
      throw new WorkloadApiError(code === 'no_svid' ? 'no_svid' : 'ca_unavailable', `the CA did not sign a JWT-SVID: ${code}: ${message}`, { cause: e });
    }
    const claims = decodeJwt(token);
    if (claims.sub !== spiffeId || typeof claims.exp !== 'number') {
      throw new WorkloadApiError('ca_unavailable', `the CA answered a JWT-SVID for ${String(claims.sub)}, not ${spiffeId}`);
    }
    const entry: CachedJwtSvid = { token, spiffeId, issuedAtMs: (claims.iat ?? Math.floor(this.opts.clock.now() / 1000)) * 1000, expiresAtMs: claims.exp * 1000 };
    this.fetched++;
    this.entries.delete(key);
    this.entries.set(key, entry);
    const max = this.opts.maxEntries ?? MAX_CACHED_JWT_SVIDS;
    for (const k of this.entries.keys()) {
      if (this.entries.size <= max) break;
      this.entries.delete(k);
    }
    return entry;
  }
}

// Kubernetes attestor: a projected ServiceAccount token (audience ztmesh-ca) checked with the TokenReview API.
// The API server verifies signature, expiry, audience and that the pod still exists; we map the SA to its SPIFFE ID.
import { createHash } from 'node:crypto';
import { decodeJwt } from 'jose';
import type { Clock } from '../common/clock.js';
import { AttestationError } from '../common/errors.js';
import type { Logger } from '../common/logger.js';
import { TOKEN_AUDIENCE } from '../common/mesh.js';
import { workloadId } from '../pki/spiffe-id.js';
import type { Attestation, AttestationInput, Attestor } from '../ca/attestors/attestor.js';
import { KubeUnreachableError, type KubeClient } from './kube-client.js';

/** How long a positive review is reused; never past the token's own `exp`. */
export const DEFAULT_CACHE_TTL_MS = 60_000;
/** Upper bound on cached reviews, so a flood of distinct tokens cannot grow memory without limit. */
export const MAX_CACHE_ENTRIES = 10_000;
export const TOKEN_REVIEW_PATH = '/apis/authentication.k8s.io/v1/tokenreviews';

const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;
const SA_USER = /^system:serviceaccount:([a-z0-9]([-a-z0-9]*[a-z0-9])?):([a-z0-9]([-a-z0-9.]*[a-z0-9])?)$/;

export interface TokenReviewOptions {
  client: KubeClient;
  trustDomain: string;
  clock: Clock;
  logger: Logger;
  audience?: string;
  cacheTtlMs?: number;
  /** DNS SANs granted to particular SPIFFE IDs (e.g. the webhook's Service name); everyone else gets none. */
  dnsGrants?: ReadonlyMap<string, readonly string[]>;
}

interface CacheEntry {
  spiffeId: string;
  expiresAtMs: number;
}

/** Parts of the TokenReview status we read (authentication.k8s.io/v1). */
interface TokenReviewStatus {
  authenticated?: boolean;
  user?: { username?: string; uid?: string; extra?: Record<string, string[]> };
  audiences?: string[];
  error?: string;
}

/** Attests Kubernetes workloads; claims only JWT-shaped bearer tokens so join tokens fall through. */
export class TokenReviewAttestor implements Attestor {
  readonly name = 'k8s_token';
  private readonly audience: string;
  private readonly cacheTtlMs: number;
  private readonly cache = new Map<string, CacheEntry>();
  private readonly log: Logger;

  constructor(private readonly opts: TokenReviewOptions) {
    this.audience = opts.audience ?? TOKEN_AUDIENCE;
    this.cacheTtlMs = opts.cacheTtlMs ?? DEFAULT_CACHE_TTL_MS;
    this.log = opts.logger.child({ component: 'k8s-token-review' });
  }

  async attest(input: AttestationInput): Promise<Attestation | undefined> {
    const token = input.bearerToken;
    if (token === undefined || !JWT_SHAPE.test(token)) return undefined;
    const now = this.opts.clock.now();
    const key = createHash('sha256').update(token).digest('hex');
    const cached = this.cache.get(key);
    if (cached && now < cached.expiresAtMs) return this.attestation(cached.spiffeId);
    if (cached) this.cache.delete(key);

    // Unverified claims may only shorten the path to a refusal (or bound the cache); acceptance is the API server's.
    let claims: ReturnType<typeof decodeJwt>;
    try {
      claims = decodeJwt(token);
    } catch {
      this.refuse(input.peer, 'token_malformed', 'the bearer token is not a decodable JWT');
    }
    const expMs = typeof claims.exp === 'number' ? claims.exp * 1000 : undefined;
    if (expMs !== undefined && expMs <= now) this.refuse(input.peer, 'token_expired', 'the ServiceAccount token has expired');
    const aud = typeof claims.aud === 'string' ? [claims.aud] : claims.aud;
    if (aud !== undefined && !aud.includes(this.audience)) {
      this.refuse(input.peer, 'wrong_audience', `the token's audience ${JSON.stringify(aud)} does not include "${this.audience}" (mount a projected token with audience ${this.audience})`);
    }

    const status = await this.review(token, input.peer);
    if (status.authenticated !== true) {
      // The API server's reason (e.g. audience mismatch, pod deleted) never contains the token itself.
      this.refuse(input.peer, 'token_invalid', `TokenReview: not authenticated${status.error ? ` (${String(status.error).slice(0, 200)})` : ''}`);
    }
    if (!(status.audiences ?? []).includes(this.audience)) {
      this.refuse(input.peer, 'wrong_audience', `TokenReview: token not valid for audience "${this.audience}" (got ${JSON.stringify(status.audiences ?? [])})`);
    }
    const username = status.user?.username ?? '';
    const m = SA_USER.exec(username);
    if (!m) this.refuse(input.peer, 'not_service_account', `TokenReview: user "${username.slice(0, 100)}" is not a ServiceAccount`);
    const spiffeId = workloadId(this.opts.trustDomain, m[1]!, m[3]!).uri;

    // A token without `exp` (a legacy Secret token) is never cached.
    if (expMs !== undefined) this.remember(key, { spiffeId, expiresAtMs: Math.min(now + this.cacheTtlMs, expMs) }, now);
    const pod = status.user?.extra?.['authentication.kubernetes.io/pod-name']?.[0];
    this.log.info({ peer: input.peer, spiffeId, ...(pod ? { pod } : {}) }, 'k8s token attested');
    return this.attestation(spiffeId);
  }

  private attestation(spiffeId: string): Attestation {
    const dns = this.opts.dnsGrants?.get(spiffeId);
    return dns?.length ? { spiffeId, method: this.name, dnsNames: [...dns] } : { spiffeId, method: this.name };
  }

  /** Number of cached positive reviews (for tests and /status). */
  cacheSize(): number {
    return this.cache.size;
  }

  private async review(token: string, peer: string): Promise<TokenReviewStatus> {
    const body = {
      apiVersion: 'authentication.k8s.io/v1',
      kind: 'TokenReview',
      spec: { token, audiences: [this.audience] },
    };
    let res;
    try {
      res = await this.opts.client.call('POST', TOKEN_REVIEW_PATH, body);
    } catch (e) {
      const why = e instanceof KubeUnreachableError ? e.message : `unexpected ${(e as Error).name}`;
      this.refuse(peer, 'upstream_unavailable', `Kubernetes API server ${this.opts.client.server} unreachable: ${why}`, 'error');
    }
    if (res.status === 201 || res.status === 200) {
      const status = (res.body as { status?: TokenReviewStatus } | undefined)?.status;
      if (status && typeof status === 'object') return status;
      this.refuse(peer, 'upstream_unavailable', `TokenReview: HTTP ${res.status} without a status`, 'error');
    }
    // 401/403: the CA's own ServiceAccount lacks RBAC or its token is stale; 429/5xx: the API server is overloaded.
    // Either way the caller's token was not judged, so the caller should retry rather than give up.
    const reason = (res.body as { message?: string } | undefined)?.message;
    this.refuse(peer, 'upstream_unavailable', `TokenReview: API server answered HTTP ${res.status}${reason ? ` (${String(reason).slice(0, 200)})` : ''}`, 'error');
  }

  private remember(key: string, entry: CacheEntry, now: number): void {
    if (this.cache.size >= MAX_CACHE_ENTRIES) {
      for (const [k, v] of this.cache) if (v.expiresAtMs <= now) this.cache.delete(k);
      // Still full: drop the oldest insertion (Map iterates in insertion order).
      if (this.cache.size >= MAX_CACHE_ENTRIES) this.cache.delete(this.cache.keys().next().value!);
    }
    this.cache.set(key, entry);
  }

  private refuse(peer: string, code: string, message: string, level: 'warn' | 'error' = 'warn'): never {
    this.log[level]({ peer, code }, `k8s token refused: ${message}`);
    throw new AttestationError(code, message);
  }
}

// The JWT bundle a workload trusts: the JWT authorities that came on the CA's trust-bundle stream, each added only when
// the CA's X.509 signing key vouches for it under a root trusted now (pki/jwt-authority.ts), each kept until its
// notAfter, so that tokens signed before a key rotation (or by a replica that forgot a key) keep validating.
//
// Invariants: an authority is never replaced by another with the same kid and a different key; the set only changes
// by one new snapshot swapped into a Watchable (sequence + 1); it holds at most MAX_JWT_AUTHORITIES.
import { X509Certificate } from 'node:crypto';
import type { Clock, TimerHandle } from '../common/clock.js';
import { describe, PkiError } from '../common/errors.js';
import type { Logger } from '../common/logger.js';
import { Watchable } from '../common/watchable.js';
import { MAX_CHAIN_DEPTH } from '../pki/verify.js';
import { verifyAuthority, type JwtAuthority, type JwtAuthorityFacts } from '../pki/jwt-authority.js';

/** Most authorities kept; past it the ones that expire first go (a CA publishes three or four). */
export const MAX_JWT_AUTHORITIES = 32;

/** The trusted JWT authorities at one instant. */
export interface JwtBundle {
  trustDomain: string;
  /** Sorted by kid. */
  authorities: readonly JwtAuthorityFacts[];
  /** Grows by one on every change (the JWKS `spiffe_sequence`). */
  sequence: number;
}

/** A refused authority, for the log and /status. */
export interface JwtAuthorityRefusal {
  keyId: string;
  code: string;
  message: string;
}

/**
 * The trusted set after offering `candidates`: unexpired known keys stay, a new kid is added when `check` passes,
 * a known kid offered with another key is refused (`jwt_authority_kid_reused`). Pure apart from `check`.
 */
export function mergeJwtAuthorities(
  current: readonly JwtAuthorityFacts[], candidates: readonly JwtAuthority[], check: (a: JwtAuthority) => void, nowMs: number,
): { next: JwtAuthorityFacts[]; added: string[]; refused: JwtAuthorityRefusal[] } {
  const byKid = new Map(current.filter((a) => a.notAfterMs > nowMs).map((a) => [a.keyId, a]));
  const added: string[] = [];
  const refused: JwtAuthorityRefusal[] = [];
  for (const c of candidates) {
    const known = byKid.get(c.keyId);
    if (known) {
      if (!known.publicKeySpki.equals(c.publicKeySpki)) refused.push({ keyId: c.keyId, code: 'jwt_authority_kid_reused', message: `kid ${c.keyId} is already trusted with another key` });
      continue;
    }
    try {
      check(c);
    } catch (e) {
      refused.push({ keyId: c.keyId, ...describe(e) });
      continue;
    }
    byKid.set(c.keyId, { keyId: c.keyId, publicKeySpki: c.publicKeySpki, notAfterMs: c.notAfterMs });
    added.push(c.keyId);
  }
  const kept = [...byKid.values()].sort((a, b) => b.notAfterMs - a.notAfterMs).slice(0, MAX_JWT_AUTHORITIES);
  return { next: kept.sort((a, b) => (a.keyId < b.keyId ? -1 : a.keyId > b.keyId ? 1 : 0)), added: added.filter((k) => kept.some((a) => a.keyId === k)), refused };
}

/** Holds the trusted JWT authorities of one workload; offer() with every bundle from the CA. */
export class JwtBundleStore {
  private readonly value: Watchable<JwtBundle>;
  private readonly log: Logger;
  private timer: TimerHandle | undefined;
  private lastRefusal: (JwtAuthorityRefusal & { atMs: number; from?: string }) | null = null;

  constructor(private readonly opts: { trustDomain: string; clock: Clock; log: Logger }) {
    this.value = new Watchable<JwtBundle>({ trustDomain: opts.trustDomain, authorities: [], sequence: 0 });
    this.log = opts.log.child({ component: 'jwt-bundle' });
  }

  current(): JwtBundle {
    return this.value.get();
  }

  /** The current bundle now, then every change. Returns unsubscribe. */
  subscribe(listener: (b: JwtBundle) => void): () => void {
    return this.value.subscribe(listener);
  }

  /** The last authority refused, for /status. */
  refusal(): (JwtAuthorityRefusal & { atMs: number; from?: string }) | null {
    return this.lastRefusal;
  }

  /** Offers the authorities of a bundle from the CA, checked against `roots` (the X.509 roots trusted now). */
  offer(candidates: readonly JwtAuthority[], roots: readonly X509Certificate[], from?: string): void {
    const now = this.opts.clock.now();
    const cur = this.value.get();
    const check = (a: JwtAuthority) => {
      if (a.signerChainDer.length > MAX_CHAIN_DEPTH) throw new PkiError('untrusted_chain', `the signer chain has ${a.signerChainDer.length} certificates`);
      let chain: X509Certificate[];
      try {
        chain = a.signerChainDer.map((d) => new X509Certificate(d));
      } catch (e) {
        throw new PkiError('malformed_certificate', 'a certificate of the signer chain cannot be parsed', { cause: e });
      }
      verifyAuthority(this.opts.trustDomain, a, chain, roots, now);
    };
    const { next, added, refused } = mergeJwtAuthorities(cur.authorities, candidates, check, now);
    for (const r of refused) {
      this.lastRefusal = { ...r, atMs: now, ...(from ? { from } : {}) };
      this.log.warn({ code: r.code, keyId: r.keyId, ca: from, err: r.message }, 'JWT authority from the CA refused');
    }
    this.swap(next, now, added);
  }

  stop(): void {
    this.timer?.cancel();
  }

  private swap(next: JwtAuthorityFacts[], now: number, added: string[]): void {
    const cur = this.value.get();
    const same = next.length === cur.authorities.length && next.every((a, i) => a.keyId === cur.authorities[i]!.keyId);
    if (!same) {
      const dropped = cur.authorities.filter((a) => !next.some((n) => n.keyId === a.keyId)).map((a) => a.keyId);
      this.value.set({ trustDomain: cur.trustDomain, authorities: next, sequence: cur.sequence + 1 });
      this.log.info({ added, dropped, jwtAuthorities: next.length }, 'JWT bundle updated');
    }
    // Expired keys leave at their notAfter, not at the next bundle.
    this.timer?.cancel();
    const soonest = Math.min(...next.map((a) => a.notAfterMs));
    if (Number.isFinite(soonest)) this.timer = this.opts.clock.setTimeout(() => this.swap(this.value.get().authorities.filter((a) => a.notAfterMs > this.opts.clock.now()), this.opts.clock.now(), []), soonest - now);
  }
}

// The JWT authorities a CA replica publishes on the trust-bundle stream and the key it signs JWT-SVIDs with now.
// Keys come from jwt-keys.ts (derived, so every replica agrees); each published one is signed by the X.509 key.
//
// Invariants: the published set changes only at a period boundary, when an old key's notAfter passes, or when the
// signing material switches; each change is one new array swapped into a Watchable. After a switch the old material's
// keys stay published (never used again) until their notAfter, so tokens they signed keep validating.
import { createHash } from 'node:crypto';
import type { Clock, TimerHandle } from '../../common/clock.js';
import type { Logger } from '../../common/logger.js';
import { Watchable } from '../../common/watchable.js';
import { signAuthority, type JwtAuthority } from '../../pki/jwt-authority.js';
import type { SigningMaterial } from '../state-dir.js';
import { deriveJwtKey, nextChangeMs, periodAt, publishedPeriods, type JwtKey, type JwtKeySchedule } from './jwt-keys.js';

interface MaterialKeys {
  material: SigningMaterial;
  id: string;
  /** Set when another material replaced it: it published keys up to this period only. */
  lastPeriod?: number;
  keys: Map<number, { key: JwtKey; authority: JwtAuthority }>;
}

export interface JwtAuthoritySourceOptions {
  material: SigningMaterial;
  schedule: JwtKeySchedule;
  clock: Clock;
  log: Logger;
}

/** The JWT keys of one replica: the published authorities (watchable) and the signing key of now. */
export class JwtAuthoritySource {
  private readonly value: Watchable<readonly JwtAuthority[]>;
  private materials: MaterialKeys[];
  private timer: TimerHandle | undefined;
  private closed = false;

  constructor(private readonly opts: JwtAuthoritySourceOptions) {
    this.materials = [this.entry(opts.material)];
    this.value = new Watchable<readonly JwtAuthority[]>(this.compute(opts.clock.now()));
    this.schedule();
  }

  /** The authorities published now, oldest first. */
  current(): readonly JwtAuthority[] {
    return this.value.get();
  }

  /** The current authorities now, then every change. Returns unsubscribe. */
  subscribe(listener: (a: readonly JwtAuthority[]) => void): () => void {
    return this.value.subscribe(listener);
  }

  /** The key that signs JWT-SVIDs at `nowMs` (the current material's key of the current period). */
  signingKey(nowMs: number): JwtKey {
    return this.keyOf(this.materials.at(-1)!, periodAt(nowMs, this.opts.schedule)).key;
  }

  /** The CA's signing material switched: keys come from `material` from now on; the old ones stay until notAfter. */
  switchTo(material: SigningMaterial): void {
    const now = this.opts.clock.now();
    const last = this.materials.at(-1)!;
    if (last.material.caCertDer.equals(material.caCertDer)) return;
    last.lastPeriod = periodAt(now, this.opts.schedule);
    this.materials.push(this.entry(material));
    this.refresh();
  }

  close(): void {
    this.closed = true;
    this.timer?.cancel();
  }

  private entry(material: SigningMaterial): MaterialKeys {
    return { material, id: createHash('sha256').update(material.caCertDer).digest('hex').slice(0, 16), keys: new Map() };
  }

  private keyOf(m: MaterialKeys, period: number): { key: JwtKey; authority: JwtAuthority } {
    let k = m.keys.get(period);
    if (!k) {
      const { schedule } = this.opts;
      const td = m.material.trustDomain;
      const key = deriveJwtKey(m.material.issuer.key, td, period, schedule);
      const facts = { keyId: key.keyId, publicKeySpki: key.publicKeySpki, notAfterMs: key.notAfterMs };
      const signerChainDer = [m.material.caCertDer, ...m.material.intermediatesDer.filter((d) => !d.equals(m.material.caCertDer))];
      k = { key, authority: { ...facts, signature: signAuthority(td, facts, m.material.issuer.key), signerChainDer } };
      m.keys.set(period, k);
    }
    return k;
  }

  /** The authorities to publish at `nowMs`; forgets keys and materials whose time is over. */
  private compute(nowMs: number): JwtAuthority[] {
    const periods = publishedPeriods(nowMs, this.opts.schedule);
    const out: JwtAuthority[] = [];
    for (const m of this.materials) {
      const mine = m.lastPeriod === undefined ? periods : periods.filter((p) => p <= m.lastPeriod!);
      for (const p of m.keys.keys()) if (!mine.includes(p)) m.keys.delete(p);
      for (const p of mine) out.push(this.keyOf(m, p).authority);
    }
    this.materials = this.materials.filter((m, i) => i === this.materials.length - 1 || m.keys.size > 0);
    return out;
  }

  private refresh(): void {
    const next = this.compute(this.opts.clock.now());
    const cur = this.value.get();
    if (next.length === cur.length && next.every((a, i) => a.keyId === cur[i]!.keyId)) return;
    this.value.set(next);
    this.opts.log.info({ jwtAuthorities: next.map((a) => a.keyId) }, 'JWT authorities changed');
  }

  private schedule(): void {
    if (this.closed) return;
    const now = this.opts.clock.now();
    this.timer = this.opts.clock.setTimeout(() => {
      this.refresh();
      this.schedule();
    }, nextChangeMs(now, this.opts.schedule) - now);
  }
}

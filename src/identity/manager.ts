// The identity manager: fetches the workload's SVID, renews it at half-life and publishes it to subscribers.
// States: initializing → available ⇄ renewing → unavailable | expired | untrusted. The clock and the CA client are
// injected. Invariant: `untrusted` exactly while the SVID held is valid but does not chain to the bundle in force
// (a root was retired): such an SVID is never presented, and a renewal (with the token) starts at once.
import type { KeyObject } from 'node:crypto';
import { Backoff, DEFAULT_BACKOFF, type BackoffPolicy } from '../common/backoff.js';
import type { Clock, TimerHandle } from '../common/clock.js';
import { isoTime } from '../common/clock.js';
import { CaClientError, describe } from '../common/errors.js';
import type { Logger } from '../common/logger.js';
import { Watchable } from '../common/watchable.js';
import { nextRefresh } from '../common/refresh.js';
import type { IssuanceMethod } from '../common/mesh.js';
import { buildCsr, generateKey, type KeyAlgorithm } from '../pki/index.js';
import type { CaClient, RawBundle, SignResult } from './ca-client.js';
import { UNREACHED_CODES, UNTRUSTED_CA_CODES, type CaReachability } from './ca-reachability.js';
import { makeTrustBundle, type IdentitySnapshot, type IdentitySource, type IdentityState, type Svid, type TrustBundle } from './credentials.js';
import { buildSvid, chainsToBundle } from './svid-material.js';
import type { SvidStorage } from './svid-store.js';
import { BUNDLE_REFUSALS, decideBundle, type BundleSource, type BundleVerdict } from './trust-bundle.js';

/** How many past rotations /status keeps. */
export const ROTATION_HISTORY = 10;
/** Codes after which a renewal over mTLS is retried once with the token (the CA no longer accepts our SVID). */
const SVID_REFUSED: ReadonlySet<string> = new Set(['unauthenticated', 'permission_denied']);
/** Failures that happened before any CA answered: they say nothing about the CA's reachability. */
const LOCAL_CODES: ReadonlySet<string> = new Set(['token_unreadable', 'internal']);

/**
 * What started a rotation attempt (the log field and /status `trigger`): the first fetch, the refresh point, a retry
 * after a failure, POST /rotate, a new bundle the SVID no longer chains to, a changed token file.
 */
export type RotationTrigger = 'initial' | 'refresh' | 'retry' | 'forced' | 'untrusted' | 'token_changed';

export interface RotationRecord {
  serial: string;
  publicKeySha256: string;
  notBeforeMs: number;
  notAfterMs: number;
  atMs: number;
  trigger: RotationTrigger;
  /** How the CA was convinced: `renewal`, `join_token`, `k8s_token`. */
  method: IssuanceMethod;
}

export interface LastError {
  code: string;
  message: string;
  atMs: number;
}

/** Counters and timestamps for /status and metrics. */
export interface ManagerStats {
  rotations: number;
  consecutiveFailures: number;
  failuresTotal: number;
  failuresByCode: Record<string, number>;
  lastError: LastError | null;
  lastRotationMs: number | null;
  /** When the next attempt runs: the refresh point, or the backoff retry after a failure. */
  nextAttemptMs: number | null;
  bundleSource: BundleSource;
  /** The last bundle from the CA that was refused (unvouched root, every trusted root dropped, …). */
  bundleRefusal: (LastError & { from?: string }) | null;
  history: RotationRecord[];
}

export type RotateOutcome = { ok: true; svid: Svid } | { ok: false; error: LastError };

export interface IdentityManagerOptions {
  client: CaClient;
  clock: Clock;
  log: Logger;
  trustDomain: string;
  ttlMs: number;
  keyAlgorithm?: KeyAlgorithm;
  /** The ID to ask for; the CA decides, but a different answer is refused. */
  spiffeId?: string;
  /** DNS SANs to ask for (e.g. the webhook's Service name); the CA keeps only those its attestor grants. */
  dnsNames?: readonly string[];
  bootstrapBundle: TrustBundle;
  reachability: CaReachability;
  backoff?: BackoffPolicy;
  random?: () => number;
  /** Key generator; tests pass a synchronous one so a fake clock never waits on the thread pool. */
  generateKey?: (alg: KeyAlgorithm) => Promise<KeyObject>;
  /**
   * Where the SVID survives a restart (identity.stateDir): the first attempt starts from the kept SVID while it is
   * valid and renews with it, and every new SVID is kept there.
   */
  store?: SvidStorage;
}

/**
 * The state after a failed attempt: `initializing` without an SVID, `expired` past its notAfter, `untrusted` while it
 * does not chain to the bundle in force, else `unavailable` (still served, still ready). Pure.
 */
export function stateAfterFailure(svid: Svid | undefined, bundle: TrustBundle, nowMs: number): IdentityState {
  if (!svid) return 'initializing';
  if (nowMs >= svid.notAfterMs) return 'expired';
  return chainsToBundle(svid, bundle, nowMs) ? 'unavailable' : 'untrusted';
}

/** Holds the current SVID and trust bundle; implements the IdentitySource contract. */
export class IdentityManager implements IdentitySource {
  private readonly snap: Watchable<IdentitySnapshot>;
  private readonly backoff: Backoff;
  private readonly random: () => number;
  private readonly genKey: (alg: KeyAlgorithm) => Promise<KeyObject>;
  private readonly log: Logger;
  private bundleSource: BundleSource = 'file';
  private timer: TimerHandle | undefined;
  private expiryTimer: TimerHandle | undefined;
  private inFlight: Promise<RotateOutcome> | undefined;
  private stopped = false;
  private restored = false;
  private readonly stats_: ManagerStats;

  constructor(private readonly opts: IdentityManagerOptions) {
    this.random = opts.random ?? Math.random;
    this.backoff = new Backoff(opts.backoff ?? DEFAULT_BACKOFF, this.random);
    this.genKey = opts.generateKey ?? generateKey;
    this.log = opts.log.child({ component: 'identity' });
    this.snap = new Watchable<IdentitySnapshot>({ state: 'initializing', bundle: opts.bootstrapBundle });
    this.stats_ = {
      rotations: 0, consecutiveFailures: 0, failuresTotal: 0, failuresByCode: {}, lastError: null,
      lastRotationMs: null, nextAttemptMs: null, bundleSource: 'file', bundleRefusal: null, history: [],
    };
  }

  current(): IdentitySnapshot {
    return this.snap.get();
  }

  subscribe(listener: (snapshot: IdentitySnapshot) => void): () => void {
    return this.snap.subscribe(listener);
  }

  /** A copy of the counters. */
  stats(): ManagerStats {
    return { ...this.stats_, failuresByCode: { ...this.stats_.failuresByCode }, history: [...this.stats_.history], bundleSource: this.bundleSource };
  }

  /** Starts the first fetch now. */
  start(): void {
    void this.attempt('initial');
  }

  /** Renews now (POST /rotate); joins an attempt already in flight. */
  forceRotate(): Promise<RotateOutcome> {
    if (this.stopped) return Promise.resolve({ ok: false, error: { code: 'stopped', message: 'the sidecar is shutting down', atMs: this.opts.clock.now() } });
    return this.attempt('forced');
  }

  /** Cancels timers; an attempt in flight is discarded when it returns. */
  stop(): void {
    this.stopped = true;
    this.timer?.cancel();
    this.expiryTimer?.cancel();
  }

  /**
   * Offers a bundle from the CA; applied by swapping the snapshot when decideBundle accepts it. A refused one is
   * logged with its code and the CA's address, and the last good bundle stays. Returns whether it was applied.
   */
  applyBundle(raw: RawBundle): boolean {
    return this.offerBundle(raw).decision === 'accept';
  }

  /** applyBundle, answering with decideBundle's verdict (the mesh stream acknowledges or refuses by it). */
  offerBundle(raw: RawBundle): BundleVerdict {
    const cur = this.snap.get();
    const now = this.opts.clock.now();
    const { decision, detail } = decideBundle({ bundle: cur.bundle!, source: this.bundleSource }, raw, this.opts.trustDomain, now);
    if (decision !== 'accept') {
      const line = { code: `bundle_${decision}`, ca: raw.from, sequence: raw.sequence, current: cur.bundle?.sequence };
      if (BUNDLE_REFUSALS.has(decision)) {
        this.stats_.bundleRefusal = { code: line.code, message: detail ?? decision, atMs: now, ...(raw.from ? { from: raw.from } : {}) };
        this.log.warn({ ...line, err: detail }, 'trust bundle from the CA refused; keeping the last good one');
      } else if (decision !== 'same') this.log.warn(line, 'trust bundle from the CA ignored');
      return { decision, ...(detail ? { detail } : {}) };
    }
    const bundle = makeTrustBundle(this.opts.trustDomain, raw.rootsDer, raw.sequence);
    this.bundleSource = 'ca';
    const svid = cur.svid;
    const held = !!svid && cur.state !== 'expired' && cur.state !== 'initializing';
    const trusted = !held || chainsToBundle(svid, bundle, now);
    const state: IdentityState = !trusted ? 'untrusted' : cur.state === 'untrusted' ? (this.stats_.lastError ? 'unavailable' : 'available') : cur.state;
    this.snap.set({ ...cur, state, bundle });
    this.log.info({ sequence: bundle.sequence, roots: bundle.rootsDer.length }, 'trust bundle updated');
    if (!trusted && cur.state !== 'untrusted') {
      this.log.warn({ event: 'untrusted', code: 'svid_untrusted', spiffeId: svid!.spiffeId, serial: svid!.serialHex, sequence: bundle.sequence },
        'the certificate no longer chains to the trust bundle (its root was retired): not ready, renewing now');
      this.backoff.reset();
      void this.attempt('untrusted');
    }
    return { decision: 'accept' };
  }

  /** The token file changed: after a failed attempt, try again now (a new join token recovers without a restart). */
  tokenFileChanged(): void {
    if (this.stopped || this.stats_.consecutiveFailures === 0) return;
    this.log.info({ event: 'token_changed', state: this.snap.get().state }, 'the token file changed: trying again now');
    this.backoff.reset();
    void this.attempt('token_changed');
  }

  private setState(state: IdentityState, svid?: Svid): void {
    const cur = this.snap.get();
    const next = svid ?? cur.svid;
    if (cur.state === state && next === cur.svid) return;
    this.snap.set({ state, bundle: cur.bundle, ...(next ? { svid: next } : {}) });
  }

  private schedule(atMs: number, trigger: RotationTrigger): void {
    this.timer?.cancel();
    if (this.stopped) return;
    this.stats_.nextAttemptMs = atMs;
    this.timer = this.opts.clock.setTimeout(() => void this.attempt(trigger), atMs - this.opts.clock.now());
  }

  private attempt(trigger: RotationTrigger): Promise<RotateOutcome> {
    if (this.inFlight) return this.inFlight;
    this.timer?.cancel();
    this.inFlight = this.run(trigger).finally(() => {
      this.inFlight = undefined;
    });
    return this.inFlight;
  }

  private async sign(csr: Buffer, held: Svid | undefined): Promise<SignResult> {
    const ttlSeconds = Math.round(this.opts.ttlMs / 1000);
    // The CA is verified against the bundle in force (the bootstrap file until the CA sends one).
    const roots = this.snap.get().bundle!;
    if (!held) return this.opts.client.sign(csr, ttlSeconds, { method: 'token', roots });
    try {
      return await this.opts.client.sign(csr, ttlSeconds, { method: 'svid', svid: held, roots });
    } catch (e) {
      const { code } = describe(e);
      if (!SVID_REFUSED.has(code)) throw e;
      this.log.info({ code }, 'the CA refused renewal with the current SVID; retrying with the token');
      return this.opts.client.sign(csr, ttlSeconds, { method: 'token', roots: this.snap.get().bundle! });
    }
  }

  private async run(trigger: RotationTrigger): Promise<RotateOutcome> {
    const { clock } = this.opts;
    if (!this.restored) {
      this.restored = true;
      await this.restore();
    }
    const before = this.snap.get();
    // An untrusted SVID is never presented: the CA no longer trusts its root either.
    const held = before.svid && before.state !== 'expired' && before.state !== 'untrusted' && clock.now() < before.svid.notAfterMs ? before.svid : undefined;
    if (before.state === 'available') this.setState('renewing');
    try {
      const key = await this.genKey(this.opts.keyAlgorithm ?? 'ec-p256');
      const csr = buildCsr(key, { uris: this.opts.spiffeId ? [this.opts.spiffeId] : [], dnsNames: this.opts.dnsNames ?? [] });
      const res = await this.sign(csr, held);
      if (this.stopped) throw new CaClientError('stopped', 'the sidecar is shutting down');
      this.opts.reachability.contact(res.address, { signed: true });
      if (res.bundle) this.applyBundle({ ...res.bundle, from: res.address });
      const svid = buildSvid({
        key, chainDer: res.chainDer, bundle: this.snap.get().bundle!, trustDomain: this.opts.trustDomain,
        nowMs: clock.now(), ...(this.opts.spiffeId ? { expectedSpiffeId: this.opts.spiffeId } : {}),
      });
      this.succeed(svid, trigger, res.method);
      return { ok: true, svid };
    } catch (e) {
      return { ok: false, error: this.fail(e, trigger) };
    }
  }

  /** Starts from the SVID kept in the store, when it is there, verifies against the bundle and is still valid. */
  private async restore(): Promise<void> {
    const store = this.opts.store;
    if (!store) return;
    const { clock } = this.opts;
    try {
      const kept = await store.load();
      if (!kept) {
        this.log.info({ stateDir: store.dir }, 'no SVID kept in the state directory yet: asking the CA with the token');
        return;
      }
      const svid = buildSvid({
        key: kept.key, chainDer: kept.chainDer, bundle: this.snap.get().bundle!, trustDomain: this.opts.trustDomain, nowMs: clock.now(),
        ...(this.opts.spiffeId ? { expectedSpiffeId: this.opts.spiffeId } : {}),
      });
      if (this.stopped) return;
      this.setState('available', svid);
      this.expiryTimer?.cancel();
      this.expiryTimer = clock.setTimeout(() => this.expire(svid), svid.notAfterMs - clock.now());
      this.log.info({
        event: 'restored', stateDir: store.dir, spiffeId: svid.spiffeId, serial: svid.serialHex, notAfter: isoTime(svid.notAfterMs),
      }, 'SVID restored from the state directory; renewing with it');
    } catch (e) {
      const { code, message } = describe(e);
      this.log.warn({ stateDir: store.dir, code, err: message }, 'the SVID kept in the state directory is not usable; asking the CA with the token');
    }
  }

  private succeed(svid: Svid, trigger: RotationTrigger, method: IssuanceMethod): void {
    const now = this.opts.clock.now();
    const s = this.stats_;
    s.rotations++;
    s.consecutiveFailures = 0;
    s.lastError = null;
    s.lastRotationMs = now;
    s.history = [...s.history, { serial: svid.serialHex, publicKeySha256: svid.publicKeySha256, notBeforeMs: svid.notBeforeMs, notAfterMs: svid.notAfterMs, atMs: now, trigger, method }].slice(-ROTATION_HISTORY);
    this.backoff.reset();
    this.setState('available', svid);
    this.expiryTimer?.cancel();
    this.expiryTimer = this.opts.clock.setTimeout(() => this.expire(svid), svid.notAfterMs - now);
    const at = nextRefresh(svid.notBeforeMs, svid.notAfterMs, now, this.random());
    this.schedule(at, 'refresh');
    const store = this.opts.store;
    if (store) {
      store.save(svid).catch((e: unknown) => this.log.warn({ stateDir: store.dir, err: describe(e).message }, 'could not keep the SVID in the state directory'));
    }
    this.log.info({
      event: 'rotation', trigger, method, spiffeId: svid.spiffeId, serial: svid.serialHex, notBefore: isoTime(svid.notBeforeMs),
      notAfter: isoTime(svid.notAfterMs), refreshAt: isoTime(at), publicKeySha256: svid.publicKeySha256, rotations: s.rotations,
    }, 'certificate rotated');
  }

  private fail(e: unknown, trigger: RotationTrigger): LastError {
    const now = this.opts.clock.now();
    const { code, message } = describe(e);
    const error = { code, message, atMs: now };
    if (this.stopped) return error;
    // A CA that answered "no" (or a server that is not our CA) is not an unreachable CA: say which it was.
    const caCode = e instanceof CaClientError ? e.caCode ?? code : undefined;
    const reached = e instanceof CaClientError && !UNREACHED_CODES.has(code) && !LOCAL_CODES.has(code);
    if (UNREACHED_CODES.has(code)) this.opts.reachability.lost();
    else if (reached) this.opts.reachability.refused(caCode!, message);
    const s = this.stats_;
    s.consecutiveFailures++;
    s.failuresTotal++;
    s.failuresByCode[code] = (s.failuresByCode[code] ?? 0) + 1;
    s.lastError = error;
    const { svid, bundle } = this.snap.get();
    const state = stateAfterFailure(svid, bundle!, now);
    this.setState(state);
    const delay = this.backoff.next();
    this.schedule(now + delay, 'retry');
    this.log.warn({
      event: 'rotation_failed', trigger, code, err: message, ca: this.opts.reachability.current().address, state,
      ...(reached ? { caReached: true, caCode } : {}),
      consecutiveFailures: s.consecutiveFailures, retryInMs: delay,
      ...(svid && state !== 'expired' ? { outageBudgetSeconds: Math.floor((svid.notAfterMs - now) / 1000) } : {}),
    }, reached ? `certificate rotation failed: CA reached, ${UNTRUSTED_CA_CODES.has(caCode!) ? 'not trusted' : 'refused'}: ${caCode}` : 'certificate rotation failed');
    return error;
  }

  private expire(svid: Svid): void {
    if (this.stopped || this.snap.get().svid !== svid) return;
    this.setState('expired');
    this.log.error({ event: 'expired', code: 'svid_expired', spiffeId: svid.spiffeId, serial: svid.serialHex, notAfter: isoTime(svid.notAfterMs) },
      'certificate expired without renewal; refusing new connections until the CA answers');
  }
}

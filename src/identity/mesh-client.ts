// The sidecar's end of the mesh stream (docs/design.md "Mesh stream"): one stream to the CA, authenticated by the
// SVID, reconnected with backoff, every update decoded (mesh/codec.ts), handed to the consumer of its kind and
// acknowledged (or refused with the consumer's code). Invariants:
// - It connects only while it holds a valid SVID (the stream takes no token) and reconnects whenever the stream
//   ends; until an update arrives, and through an outage, every consumer keeps what it holds.
// - A CA that answers UNIMPLEMENTED (an older CA) gets WatchTrustBundle instead, and consumers hear that their
//   kind will not come; the mesh stream is tried again every FALLBACK_RETRY_MS.
// - Each update is acknowledged exactly once, in the order received.
import os from 'node:os';
import { Backoff, DEFAULT_BACKOFF, type BackoffPolicy } from '../common/backoff.js';
import type { Clock, TimerHandle } from '../common/clock.js';
import type { CaClientError } from '../common/errors.js';
import type { Logger } from '../common/logger.js';
import { ZTMESH_VERSION } from '../common/version.js';
import type { MeshUpdate__Output } from '../gen/ztmesh/mesh/v1/MeshUpdate.js';
import { decodeUpdate, isRoutableAddress, type MeshUpdate, type Refusal } from '../mesh/codec.js';
import { MESH_LIMITS, type MeshKind } from '../mesh/kinds.js';
import type { BundleWatcher } from './bundle-watcher.js';
import type { CaCallAuth, MeshCall, MeshStreamSource } from './ca-client.js';
import { UNREACHED_CODES, type CaReachability } from './ca-reachability.js';
import { hasValidSvid, type IdentitySource } from './credentials.js';

/** How often an older CA (no mesh stream) is asked again, in case it was upgraded. */
export const FALLBACK_RETRY_MS = 5 * 60_000;
/** How often the announced addresses are read again (an interface may gain or lose an address). */
export const ADDRESS_CHECK_MS = 30_000;

/** The consumer of one kind of mesh data. */
export interface MeshConsumer {
  readonly kind: MeshKind;
  /** Applies one update; a refusal is sent back as a NACK, and the consumer keeps what it held. */
  apply(update: MeshUpdate, from: string): Refusal | undefined;
  /** Told `true` when the CA serves no mesh stream (this kind will not come), `false` once it does again. */
  unsupported?(yes: boolean): void;
}

/** Where the stream stands, for /status. */
export interface MeshClientStatus {
  connected: boolean;
  /** `mesh` (Mesh.Stream), `watch-trust-bundle` (an older CA), or null before the first answer. */
  protocol: 'mesh' | 'watch-trust-bundle' | null;
  lastUpdateMs: number | null;
  reconnects: number;
  lastError: { code: string; message: string } | null;
  /** Per kind: the version applied last, when, and the last update refused. */
  kinds: Record<string, { version: string; atMs: number; lastRefusal: (Refusal & { version: string; atMs: number }) | null }>;
}

export interface MeshClientOptions {
  source: MeshStreamSource;
  identity: IdentitySource;
  /** What each stream presents and trusts, read at every (re)connect. */
  auth: () => CaCallAuth;
  consumers: readonly MeshConsumer[];
  /** Announce this host's addresses (transparent mode outside Kubernetes). */
  announce?: boolean;
  /** WatchTrustBundle, for a CA without the mesh stream. */
  fallback?: BundleWatcher;
  reachability: CaReachability;
  clock: Clock;
  log: Logger;
  backoff?: BackoffPolicy;
  random?: () => number;
  /** This host's addresses (tests); default: every routable address of its interfaces. */
  addresses?: () => string[];
}

/** Every routable address of this host's interfaces, at most 16, sorted (what a transparent sidecar announces). */
export function hostAddresses(): string[] {
  const out = new Set<string>();
  for (const list of Object.values(os.networkInterfaces())) for (const i of list ?? []) if (!i.internal && isRoutableAddress(i.address)) out.add(i.address);
  return [...out].sort().slice(0, MESH_LIMITS.maxAnnounceAddresses);
}

/** The sidecar's mesh stream, for the life of the process. */
export class MeshClient {
  private readonly backoff: Backoff;
  private readonly log: Logger;
  private readonly consumers: ReadonlyMap<string, MeshConsumer>;
  private call: MeshCall | undefined;
  private timer: TimerHandle | undefined;
  private addressTimer: TimerHandle | undefined;
  private unsubscribe: (() => void) | undefined;
  private announced: string[] = [];
  private stopped = false;
  private fallbackOn = false;
  private readonly st: MeshClientStatus = { connected: false, protocol: null, lastUpdateMs: null, reconnects: 0, lastError: null, kinds: {} };

  constructor(private readonly opts: MeshClientOptions) {
    this.backoff = new Backoff(opts.backoff ?? DEFAULT_BACKOFF, opts.random ?? Math.random);
    this.log = opts.log.child({ component: 'mesh-client' });
    this.consumers = new Map(opts.consumers.map((c) => [c.kind, c]));
  }

  status(): MeshClientStatus {
    const watcher = this.fallbackOn ? this.opts.fallback?.status() : undefined;
    if (watcher) return { ...this.st, connected: watcher.connected, lastUpdateMs: watcher.lastUpdateMs ?? this.st.lastUpdateMs, kinds: { ...this.st.kinds } };
    return { ...this.st, kinds: { ...this.st.kinds } };
  }

  /** Connects as soon as (and whenever) the identity holds a valid SVID. */
  start(): void {
    this.unsubscribe = this.opts.identity.subscribe(() => this.maybeConnect());
    if (this.opts.announce) this.checkAddresses();
  }

  stop(): void {
    this.stopped = true;
    this.unsubscribe?.();
    this.timer?.cancel();
    this.addressTimer?.cancel();
    this.call?.cancel();
    this.call = undefined;
    if (this.fallbackOn) this.opts.fallback?.stop();
  }

  private addresses(): string[] {
    return this.opts.announce ? (this.opts.addresses ?? hostAddresses)() : [];
  }

  private checkAddresses(): void {
    if (this.stopped) return;
    const now = this.addresses();
    if (this.call && now.join() !== this.announced.join()) {
      this.announced = now;
      this.call.send({ announce: { addresses: now } });
      this.log.info({ addresses: now }, 'announced addresses changed');
    }
    this.addressTimer = this.opts.clock.setTimeout(() => this.checkAddresses(), ADDRESS_CHECK_MS);
  }

  private maybeConnect(): void {
    if (this.stopped || this.call || this.timer) return;
    if (!hasValidSvid(this.opts.identity.current(), this.opts.clock.now())) return;
    this.connect();
  }

  private connect(): void {
    this.timer = undefined;
    if (this.stopped || this.call) return;
    if (!hasValidSvid(this.opts.identity.current(), this.opts.clock.now())) return; // the next SVID calls maybeConnect
    this.announced = this.addresses();
    const subscribe = { subscribe: { kinds: [...this.consumers.keys()], sidecarVersion: ZTMESH_VERSION, addresses: this.announced } };
    // onClose may come before openMesh returns (a channel that cannot be built): then this stream never was.
    let call: MeshCall | undefined;
    let early: CaClientError | undefined;
    const opened = this.opts.source.openMesh({
      onUpdate: (msg, address) => { if (call !== undefined && call === this.call) this.onUpdate(msg, address); },
      onClose: (err) => {
        if (call === undefined) early = err;
        else if (call === this.call) this.onClose(err);
      },
    }, this.opts.auth(), subscribe);
    call = opened;
    if (early) this.onClose(early);
    else this.call = opened;
  }

  private onUpdate(msg: MeshUpdate__Output, address: string): void {
    if (this.stopped) return;
    const now = this.opts.clock.now();
    if (!this.st.connected) {
      this.log.info({ ca: address, kinds: [...this.consumers.keys()] }, 'mesh stream connected');
      this.st.connected = true;
      this.st.protocol = 'mesh';
      this.st.lastError = null;
      this.backoff.reset();
      if (this.fallbackOn) {
        this.fallbackOn = false;
        this.opts.fallback?.stop();
        for (const c of this.consumers.values()) c.unsupported?.(false);
      }
    }
    this.st.lastUpdateMs = now;
    this.opts.reachability.contact(address);
    const decoded = decodeUpdate(msg);
    const kind = typeof msg?.kind === 'string' ? msg.kind.slice(0, MESH_LIMITS.maxTokenLength) : '';
    const version = typeof msg?.version === 'string' ? msg.version.slice(0, MESH_LIMITS.maxTokenLength) : '';
    const consumer = decoded.ok ? this.consumers.get(decoded.value.kind) : undefined;
    const refusal = !decoded.ok ? decoded.refusal
      : consumer ? consumer.apply(decoded.value, address) : { code: 'unknown_kind', detail: `kind ${kind} was not subscribed to` };
    if (refusal) {
      this.log.warn({ ca: address, kind, version, code: refusal.code, detail: refusal.detail }, 'mesh update refused; keeping what is held');
      const k = this.st.kinds[kind];
      if (k) k.lastRefusal = { ...refusal, version, atMs: now };
      this.call?.send({ ack: { kind, version, applied: false, errorCode: refusal.code, errorDetail: refusal.detail.slice(0, 1000) } });
      return;
    }
    this.st.kinds[kind] = { version, atMs: now, lastRefusal: this.st.kinds[kind]?.lastRefusal ?? null };
    this.call?.send({ ack: { kind, version, applied: true } });
  }

  private onClose(err: CaClientError): void {
    this.call = undefined;
    if (this.stopped) return;
    this.st.connected = false;
    this.st.lastError = { code: err.caCode ?? err.code, message: err.message };
    if (err.code === 'unimplemented') return this.fallBack(err);
    if (UNREACHED_CODES.has(err.code)) this.opts.reachability.lost();
    else if (err.code === 'ca_identity_mismatch') this.opts.reachability.refused(err.code, err.message);
    const delay = this.backoff.next();
    this.st.reconnects++;
    this.log.warn({ code: err.caCode ?? err.code, err: err.message, ca: this.opts.reachability.current().address, retryInMs: delay }, 'mesh stream closed; reconnecting, keeping what is held');
    this.timer = this.opts.clock.setTimeout(() => this.connect(), delay);
  }

  /** An older CA: the trust bundle comes by WatchTrustBundle, the other kinds not at all (their consumers are told). */
  private fallBack(err: CaClientError): void {
    this.st.protocol = 'watch-trust-bundle';
    if (!this.fallbackOn) {
      this.fallbackOn = true;
      this.log.warn({ ca: this.opts.reachability.current().address, err: err.message, retryInMs: FALLBACK_RETRY_MS },
        'the CA serves no mesh stream (an older CA): watching the trust bundle instead; membership and mesh config will not come');
      for (const c of this.consumers.values()) c.unsupported?.(true);
      this.opts.fallback?.start();
    }
    this.timer = this.opts.clock.setTimeout(() => this.connect(), FALLBACK_RETRY_MS);
  }
}

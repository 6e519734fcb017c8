// One workload identity, bootstrapped the same way for the sidecar and the webhook: the bootstrap bundle, the CA
// client, the rotation manager, CA reachability, the mesh stream (WatchTrustBundle from an older CA) and the JWT
// bundle its trust bundles carry, built in order (no late binding).
import type { KeyObject } from 'node:crypto';
import type { Clock } from '../common/clock.js';
import type { Logger } from '../common/logger.js';
import type { KeyAlgorithm } from '../pki/keys.js';
import { CaClientError } from '../common/errors.js';
import { BundleWatcher, type BundleWatcherStatus } from './bundle-watcher.js';
import {
  GrpcCaClient, fromWireBundle, type BundleStreamSource, type CaCallAuth, type CaClient, type JwtSvidSigner, type MeshStreamSource, type RawBundle,
} from './ca-client.js';
import { CaReachability } from './ca-reachability.js';
import { hasValidSvid, type IdentitySource } from './credentials.js';
import { IdentityManager } from './manager.js';
import { JwtBundleStore } from './jwt-bundle.js';
import { SvidStore } from './svid-store.js';
import { TokenFileWatch } from './token-file-watch.js';
import { BUNDLE_REFUSALS, loadBundleFile } from './trust-bundle.js';
import { MeshClient, type MeshClientStatus, type MeshConsumer } from './mesh-client.js';
import { MESH_KINDS } from '../mesh/kinds.js';
import type { Refusal } from '../mesh/codec.js';

export interface WorkloadIdentityOptions {
  /** CA addresses in failover order. */
  caAddresses: string[];
  trustDomain: string;
  tokenFile: string;
  /** The bootstrap trust bundle (PEM roots), to verify the CA until its stream delivers. */
  bundleFile: string;
  /** TLS name sent to the CA (the CA is verified by SPIFFE ID). */
  serverName?: string;
  ttlMs: number;
  keyAlgorithm?: KeyAlgorithm;
  /** The ID to ask for; a different answer is refused. */
  spiffeId?: string;
  /** DNS SANs to ask for (the webhook's Service name). */
  dnsNames?: readonly string[];
  /** Keeps the SVID across restarts (identity.stateDir). */
  stateDir?: string;
  /**
   * `svid` (default): renew over mTLS with the current SVID, the token only when the CA refuses it. `token`: every
   * signing call sends the token (the webhook: its DNS SAN is granted to its ServiceAccount token, not to its SVID).
   */
  renewWith?: 'svid' | 'token';
  clock: Clock;
  log: Logger;
  /**
   * Replaces the gRPC client (tests); one without openMesh watches the trust bundle only (WatchTrustBundle), one
   * without signJwtSvid signs no JWT-SVIDs.
   */
  caClient?: CaClient & BundleStreamSource & Partial<MeshStreamSource & JwtSvidSigner>;
  /** More kinds of the mesh stream than the trust bundle (the sidecar: membership, config). */
  meshConsumers?: readonly MeshConsumer[];
  /** Announce this host's addresses on the mesh stream (transparent mode outside Kubernetes). */
  announce?: boolean;
  random?: () => number;
  generateKey?: (alg: KeyAlgorithm) => Promise<KeyObject>;
}

/** A workload's identity: rotating SVID, trust bundle and what it knows of the CA; start() begins, stop() ends. */
export interface WorkloadIdentity {
  identity: IdentityManager;
  reachability: CaReachability;
  /** The JWT authorities trusted now (from the trust bundles the CA sends). */
  jwtBundle: JwtBundleStore;
  /** A JWT-SVID from the CA for our SPIFFE ID; CaClientError `no_svid` while we hold no valid X.509-SVID. Never log it. */
  signJwtSvid(audiences: readonly string[], ttlSeconds: number): Promise<{ token: string; address: string }>;
  /** The stream from the CA (the mesh stream, or WatchTrustBundle from an older CA), as /status shows it. */
  stream(): BundleWatcherStatus & Partial<Pick<MeshClientStatus, 'protocol' | 'kinds'>>;
  start(): void;
  stop(): void;
}

/**
 * Applies a trust bundle the CA sent, however it came (the mesh stream's trust-bundle kind, or WatchTrustBundle from an
 * older CA): the roots first (decideBundle), then its JWT authorities, each judged against the roots trusted once the
 * roots are applied. A refused bundle changes nothing, its JWT authorities included, and its refusal is returned (the
 * mesh stream sends it back as a NACK). An older or the same bundle is no refusal: its JWT authorities are still
 * offered (the CA publishes new JWT keys under the same roots).
 */
export function bundleApplier(identity: IdentityManager, jwtBundle: JwtBundleStore): (raw: RawBundle) => Refusal | undefined {
  return (raw) => {
    const v = identity.offerBundle(raw);
    if (BUNDLE_REFUSALS.has(v.decision)) return { code: `bundle_${v.decision}`, detail: v.detail ?? v.decision };
    jwtBundle.offer(raw.jwtAuthorities ?? [], identity.current().bundle!.roots, raw.from);
    return undefined;
  };
}

/** The trust-bundle kind of the mesh stream: each update goes to `apply` (bundleApplier), refused with its code. */
export function bundleConsumer(apply: (raw: RawBundle) => Refusal | undefined): MeshConsumer {
  return {
    kind: MESH_KINDS.trustBundle,
    apply(u, from) {
      if (u.kind !== MESH_KINDS.trustBundle) return { code: 'unknown_kind', detail: u.kind };
      const raw = fromWireBundle(u.bundle);
      if (!raw) return { code: 'bundle_empty', detail: 'the bundle holds no root' };
      return apply({ ...raw, from });
    },
  };
}

/** What a call to the CA presents now: the bundle in force, and our SVID while it is valid. */
export function currentCaAuth(identity: IdentitySource, clock: Clock): CaCallAuth {
  const snap = identity.current();
  return { roots: snap.bundle!, ...(snap.svid && hasValidSvid(snap, clock.now()) ? { svid: snap.svid } : {}) };
}

/**
 * Builds the identity parts in dependency order and starts nothing. Fails with ConfigError when the bundle file
 * cannot be read or is for another trust domain, or the state directory cannot be written.
 */
export async function buildWorkloadIdentity(opts: WorkloadIdentityOptions): Promise<WorkloadIdentity> {
  const { clock, log } = opts;
  const bootstrapBundle = await loadBundleFile(opts.bundleFile, opts.trustDomain);
  const store = opts.stateDir ? new SvidStore(opts.stateDir) : undefined;
  await store?.prepare();
  const caClient = opts.caClient ?? new GrpcCaClient({
    addresses: opts.caAddresses, trustDomain: opts.trustDomain, tokenFile: opts.tokenFile, log: log.child({ component: 'ca-client' }),
    ...(opts.serverName ? { serverName: opts.serverName } : {}),
  });
  const signer: CaClient = opts.renewWith === 'token'
    ? { sign: (csr, ttlSeconds, auth) => caClient.sign(csr, ttlSeconds, { method: 'token', roots: auth.roots }) }
    : caClient;
  const reachability = new CaReachability(clock, opts.caAddresses[0]!);
  const identity = new IdentityManager({
    client: signer, clock, log, trustDomain: opts.trustDomain, ttlMs: opts.ttlMs, bootstrapBundle, reachability,
    ...(opts.keyAlgorithm ? { keyAlgorithm: opts.keyAlgorithm } : {}),
    ...(opts.spiffeId ? { spiffeId: opts.spiffeId } : {}),
    ...(opts.dnsNames ? { dnsNames: opts.dnsNames } : {}),
    ...(opts.random ? { random: opts.random } : {}),
    ...(opts.generateKey ? { generateKey: opts.generateKey } : {}),
    ...(store ? { store } : {}),
  });
  const jwtBundle = new JwtBundleStore({ trustDomain: opts.trustDomain, clock, log });
  const apply = bundleApplier(identity, jwtBundle);
  const auth = () => currentCaAuth(identity, clock);
  const watcher = new BundleWatcher({
    source: caClient, auth, apply: (b) => void apply(b), reachability, clock, log,
    ...(opts.random ? { random: opts.random } : {}),
  });
  const meshSource = caClient.openMesh ? (caClient as MeshStreamSource) : undefined;
  const mesh = meshSource && new MeshClient({
    source: meshSource, identity, auth, consumers: [bundleConsumer(apply), ...(opts.meshConsumers ?? [])], fallback: watcher,
    announce: opts.announce ?? false, reachability, clock, log, ...(opts.random ? { random: opts.random } : {}),
  });
  const signJwtSvid = (audiences: readonly string[], ttlSeconds: number) => {
    const a = auth();
    if (!a.svid) return Promise.reject(new CaClientError('no_svid', 'no valid X.509-SVID yet to ask the CA for a JWT-SVID with'));
    if (!caClient.signJwtSvid) return Promise.reject(new CaClientError('unimplemented', 'this CA client signs no JWT-SVIDs'));
    return caClient.signJwtSvid(audiences, ttlSeconds, { ...a, svid: a.svid });
  };
  // A new token recovers an identity whose token was refused without a restart (docs/design.md "Identity states and failure codes").
  const tokenWatch = new TokenFileWatch({ file: opts.tokenFile, clock, onChange: () => identity.tokenFileChanged() });
  return {
    identity, reachability, jwtBundle, signJwtSvid,
    stream: () => mesh?.status() ?? watcher.status(),
    start: () => { identity.start(); if (mesh) mesh.start(); else watcher.start(); tokenWatch.start(); },
    stop: () => { tokenWatch.stop(); mesh?.stop(); watcher.stop(); identity.stop(); jwtBundle.stop(); },
  };
}

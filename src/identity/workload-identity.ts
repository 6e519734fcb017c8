// One workload identity, bootstrapped the same way for the sidecar and the webhook: the bootstrap bundle, the CA
// client, the rotation manager, CA reachability and the trust bundle stream, built in order (no late binding).
import type { KeyObject } from 'node:crypto';
import type { Clock } from '../common/clock.js';
import type { Logger } from '../common/logger.js';
import type { KeyAlgorithm } from '../pki/keys.js';
import { BundleWatcher, type BundleWatcherStatus } from './bundle-watcher.js';
import { GrpcCaClient, fromWireBundle, type BundleStreamSource, type CaCallAuth, type CaClient, type MeshStreamSource } from './ca-client.js';
import { CaReachability } from './ca-reachability.js';
import { hasValidSvid, type IdentitySource } from './credentials.js';
import { IdentityManager } from './manager.js';
import { SvidStore } from './svid-store.js';
import { TokenFileWatch } from './token-file-watch.js';
import { BUNDLE_REFUSALS, loadBundleFile } from './trust-bundle.js';
import { MeshClient, type MeshClientStatus, type MeshConsumer } from './mesh-client.js';
import { MESH_KINDS } from '../mesh/kinds.js';

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
  /** Replaces the gRPC client (tests); one without openMesh watches the trust bundle only (WatchTrustBundle). */
  caClient?: CaClient & BundleStreamSource & Partial<MeshStreamSource>;
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
  /** The stream from the CA (the mesh stream, or WatchTrustBundle from an older CA), as /status shows it. */
  stream(): BundleWatcherStatus & Partial<Pick<MeshClientStatus, 'protocol' | 'kinds'>>;
  start(): void;
  stop(): void;
}

/** The trust-bundle kind of the mesh stream: offered to the manager (decideBundle), refused with its code. */
export function bundleConsumer(identity: IdentityManager): MeshConsumer {
  return {
    kind: MESH_KINDS.trustBundle,
    apply(u, from) {
      if (u.kind !== MESH_KINDS.trustBundle) return { code: 'unknown_kind', detail: u.kind };
      const raw = fromWireBundle(u.bundle);
      if (!raw) return { code: 'bundle_empty', detail: 'the bundle holds no root' };
      const v = identity.offerBundle({ ...raw, from });
      return BUNDLE_REFUSALS.has(v.decision) ? { code: `bundle_${v.decision}`, detail: v.detail ?? v.decision } : undefined;
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
  const auth = () => currentCaAuth(identity, clock);
  const watcher = new BundleWatcher({
    source: caClient, auth, apply: (b) => void identity.applyBundle(b), reachability, clock, log,
    ...(opts.random ? { random: opts.random } : {}),
  });
  const meshSource = caClient.openMesh ? (caClient as MeshStreamSource) : undefined;
  const mesh = meshSource && new MeshClient({
    source: meshSource, identity, auth, consumers: [bundleConsumer(identity), ...(opts.meshConsumers ?? [])], fallback: watcher,
    announce: opts.announce ?? false, reachability, clock, log, ...(opts.random ? { random: opts.random } : {}),
  });
  // A new token recovers an identity whose token was refused without a restart (docs/design.md "Identity states and failure codes").
  const tokenWatch = new TokenFileWatch({ file: opts.tokenFile, clock, onChange: () => identity.tokenFileChanged() });
  return {
    identity, reachability,
    stream: () => mesh?.status() ?? watcher.status(),
    start: () => { identity.start(); if (mesh) mesh.start(); else watcher.start(); tokenWatch.start(); },
    stop: () => { tokenWatch.stop(); mesh?.stop(); watcher.stop(); identity.stop(); },
  };
}

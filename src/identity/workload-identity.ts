// One workload identity, bootstrapped the same way for the sidecar and the webhook: the bootstrap bundle, the CA
// client, the rotation manager, CA reachability and the trust bundle stream, built in order (no late binding).
import type { KeyObject } from 'node:crypto';
import type { Clock } from '../common/clock.js';
import type { Logger } from '../common/logger.js';
import type { KeyAlgorithm } from '../pki/keys.js';
import { BundleWatcher } from './bundle-watcher.js';
import { CaClientError } from '../common/errors.js';
import { GrpcCaClient, type BundleStreamSource, type CaCallAuth, type CaClient, type JwtSvidSigner } from './ca-client.js';
import { CaReachability } from './ca-reachability.js';
import { hasValidSvid, type IdentitySource } from './credentials.js';
import { IdentityManager } from './manager.js';
import { JwtBundleStore } from './jwt-bundle.js';
import { SvidStore } from './svid-store.js';
import { loadBundleFile } from './trust-bundle.js';

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
  /** Replaces the gRPC client (tests). */
  caClient?: CaClient & BundleStreamSource & Partial<JwtSvidSigner>;
  random?: () => number;
  generateKey?: (alg: KeyAlgorithm) => Promise<KeyObject>;
}

/** A workload's identity: rotating SVID, trust bundle and what it knows of the CA; start() begins, stop() ends. */
export interface WorkloadIdentity {
  identity: IdentityManager;
  reachability: CaReachability;
  watcher: BundleWatcher;
  /** The JWT authorities trusted now (from the bundle stream). */
  jwtBundle: JwtBundleStore;
  /** A JWT-SVID from the CA for our SPIFFE ID; CaClientError `no_svid` while we hold no valid X.509-SVID. Never log it. */
  signJwtSvid(audiences: readonly string[], ttlSeconds: number): Promise<{ token: string; address: string }>;
  start(): void;
  stop(): void;
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
  const watcher = new BundleWatcher({
    source: caClient, auth: () => currentCaAuth(identity, clock), reachability, clock, log,
    // Roots first: a JWT authority is judged against the roots trusted once this bundle is applied.
    apply: (b) => {
      identity.applyBundle(b);
      jwtBundle.offer(b.jwtAuthorities ?? [], identity.current().bundle!.roots, b.from);
    },
    ...(opts.random ? { random: opts.random } : {}),
  });
  const signJwtSvid = (audiences: readonly string[], ttlSeconds: number) => {
    const auth = currentCaAuth(identity, clock);
    if (!auth.svid) return Promise.reject(new CaClientError('no_svid', 'no valid X.509-SVID yet to ask the CA for a JWT-SVID with'));
    if (!caClient.signJwtSvid) return Promise.reject(new CaClientError('unimplemented', 'this CA client signs no JWT-SVIDs'));
    return caClient.signJwtSvid(audiences, ttlSeconds, { ...auth, svid: auth.svid });
  };
  return {
    identity, reachability, watcher, jwtBundle, signJwtSvid,
    start: () => { identity.start(); watcher.start(); },
    stop: () => { watcher.stop(); identity.stop(); jwtBundle.stop(); },
  };
}

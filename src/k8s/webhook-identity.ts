// The webhook's own identity: an SVID from the ztmesh CA with the Service DNS name, rotated by the same
// identity manager as every sidecar's, plus the trust bundle stream (which also feeds the caBundle sync).
import type { Clock } from '../common/clock.js';
import type { Logger } from '../common/logger.js';
import { BundleWatcher } from '../identity/bundle-watcher.js';
import { GrpcCaClient, type CaClient } from '../identity/ca-client.js';
import { CaReachability } from '../identity/ca-reachability.js';
import { hasValidSvid } from '../identity/credentials.js';
import { IdentityManager } from '../identity/manager.js';
import { loadBundleFile } from '../identity/trust-bundle.js';

export interface WebhookIdentityOptions {
  caAddresses: string[];
  trustDomain: string;
  tokenFile: string;
  bundleFile: string;
  dnsNames: string[];
  ttlMs: number;
  serverName?: string;
  clock: Clock;
  log: Logger;
}

/**
 * Starts the identity manager and bundle watcher for the webhook. Every signing call authenticates with the
 * projected token, never with the current SVID: the CA grants the Service DNS SAN to the token's ServiceAccount
 * (--k8s-dns-san), and a renewal by SVID would drop it.
 */
export async function startWebhookIdentity(opts: WebhookIdentityOptions): Promise<{ identity: IdentityManager; stop(): void }> {
  const bootstrapBundle = await loadBundleFile(opts.bundleFile, opts.trustDomain);
  const reachability = new CaReachability(opts.clock, opts.caAddresses[0]!);
  let manager: IdentityManager | undefined;
  const grpcClient = new GrpcCaClient({
    addresses: opts.caAddresses,
    trustDomain: opts.trustDomain,
    tokenFile: opts.tokenFile,
    ...(opts.serverName ? { serverName: opts.serverName } : {}),
    log: opts.log.child({ component: 'ca-client' }),
    roots: () => manager?.current().bundle,
    currentSvid: () => {
      const snap = manager?.current();
      return snap && hasValidSvid(snap, opts.clock.now()) ? snap.svid : undefined;
    },
  });
  const tokenOnly: CaClient = { sign: (csr, ttlSeconds) => grpcClient.sign(csr, ttlSeconds, { method: 'token' }) };
  manager = new IdentityManager({
    client: tokenOnly, clock: opts.clock, log: opts.log.child({ component: 'identity' }), trustDomain: opts.trustDomain,
    ttlMs: opts.ttlMs, bootstrapBundle, reachability, dnsNames: opts.dnsNames,
  });
  const identity = manager;
  const watcher = new BundleWatcher({
    source: grpcClient, apply: (b) => void identity.applyBundle(b), reachability, clock: opts.clock, log: opts.log.child({ component: 'bundle-watcher' }),
  });
  identity.start();
  watcher.start();
  return { identity, stop: () => { watcher.stop(); identity.stop(); } };
}

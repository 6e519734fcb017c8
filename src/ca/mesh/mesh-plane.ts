// The CA's mesh plane, wired once by ca/build.ts: the kinds it serves (trust bundle, membership, config, policy), the
// sources of membership (static CIDRs, announcements outside Kubernetes, or the Kubernetes watchers) and of policy
// (--policy-dir, or the Kubernetes watch), the Mesh gRPC service and the registry of live streams behind GET /mesh
// and GET /policies.
import { randomBytes } from 'node:crypto';
import type { Clock } from '../../common/clock.js';
import { parseCidr } from '../../common/cidr.js';
import type { Logger } from '../../common/logger.js';
import type { MeshedDestination } from '../../mesh/destination.js';
import { MESH_KINDS, type InboundMode } from '../../mesh/kinds.js';
import type { MeshDefault } from '../../policy/model.js';
import { problemLine } from '../../policy/parse.js';
import type { Attestor } from '../attestors/attestor.js';
import type { MeshUpdate as MeshUpdateWire } from '../../gen/ztmesh/mesh/v1/MeshUpdate.js';
import type { CaMetrics } from '../metrics.js';
import type { TrustBundleSource } from '../root/trust-bundle.js';
import type { Issued } from '../audit/issuance-events.js';
import type { PeerTlsLookup } from '../serving/service.js';
import { RateLimiter } from '../signing/rate-limit.js';
import { Announcements } from './announcements.js';
import { bundleKind, type JwtAuthorityView } from './bundle-kind.js';
import { configKind } from './config-kind.js';
import { MEMBERSHIP_PREFIXES, MembershipKind, type MembershipWriter } from './membership-kind.js';
import { createMeshService, type MeshService } from './mesh-service.js';
import { StreamRegistry, type MeshReport } from './stream-registry.js';
import { PolicyDir } from '../policy/policy-dir.js';
import { PolicyKind, type PoliciesReport } from '../policy/policy-kind.js';
import { PolicyStore, type PolicyFeed } from '../policy/policy-store.js';

/** Announcements per stream: a burst of 4, then one every 10 s (addresses change rarely). */
export const ANNOUNCE_RATE = { perSecond: 0.1, burst: 4 } as const;

/** A source of membership from outside the CA's own flags (the Kubernetes watchers, k8s/mesh-watch.ts). */
export interface MembershipFeed {
  /** Starts writing meshed destinations; calls writer.complete() once its first full state is written. */
  start(writer: MembershipWriter): void;
  close(): Promise<void> | void;
}

export interface MeshPlaneOptions extends PeerTlsLookup {
  /** The CA state directory (announcements are kept under it). */
  dir: string;
  meshedCidrs: readonly string[];
  defaultInboundMode: InboundMode;
  bundle: TrustBundleSource;
  /** The JWT authorities the trust-bundle kind carries with the roots (issue 24). */
  jwtAuthorities?: JwtAuthorityView;
  renewal: Attestor;
  /** Kubernetes: membership from the watchers, and no announcements. */
  feed?: MembershipFeed;
  /** Authorization policy: the mesh default, and policies from a directory or from Kubernetes (at most one). */
  policy: { defaultPolicy: MeshDefault; dir?: string; feed?: PolicyFeed };
  clock: Clock;
  log: Logger;
  metrics: CaMetrics;
  replica: string;
  /** The Mesh service's serializer (from the proto definition). */
  encode: (u: MeshUpdateWire) => Buffer;
}

/** The entry of one static meshed CIDR (`--meshed-cidrs`): every port, any ID of the trust domain. */
export function staticDestination(cidr: string): MeshedDestination {
  const c = parseCidr(cidr)!;
  return { key: `${MEMBERSHIP_PREFIXES.static}${cidr}`, cidrs: [`${c.address}/${c.prefix}`], ports: [], identities: [] };
}

/** The peer a kind's version is asked for in GET /mesh's summary (kinds that serve every peer alike). */
const ANY_PEER = { spiffeId: '', address: '' };

/** The running mesh plane. */
export interface MeshPlane {
  service: MeshService;
  membership: MembershipKind;
  policies: PolicyStore;
  /** Told of every certificate the CA issues (extends announced addresses). */
  onIssued(issued: Issued): void;
  report(): MeshReport;
  /** GET /policies. */
  policyReport(): PoliciesReport;
  close(): void;
}

/** Builds the mesh plane and starts its membership sources. */
export async function startMeshPlane(o: MeshPlaneOptions): Promise<MeshPlane> {
  const instance = randomBytes(4).toString('hex');
  const log = o.log.child({ component: 'mesh' });
  const policyLog = o.log.child({ component: 'policy' });
  const policies = new PolicyStore(o.policy.defaultPolicy, {
    awaitFeed: !!o.policy.feed,
    onProblems: (source, problems) => {
      for (const p of problems) {
        policyLog.warn({ code: 'invalid_policy', source, object: p.object, field: p.field, reason: p.message, lastValidInForce: p.lastValidInForce },
          `invalid policy refused: ${problemLine(p)}${p.lastValidInForce ? ' (its last valid version stays in force)' : ''}`);
      }
    },
  });
  const countPolicies = () => {
    const c = policies.counts();
    o.metrics.policies.set({ state: 'valid' }, c.valid);
    o.metrics.policies.set({ state: 'invalid' }, c.invalid);
  };
  const unwatchPolicies = policies.subscribe(countPolicies);
  const policyDir = o.policy.dir ? new PolicyDir({ dir: o.policy.dir, writer: policies, clock: o.clock, log: policyLog }) : undefined;
  await policyDir?.start();
  const membership = new MembershipKind(instance, { awaitFeed: !!o.feed });
  const unwatchSize = membership.subscribe(() => o.metrics.membershipEntries.set(membership.set.size));
  membership.replacePrefix(MEMBERSHIP_PREFIXES.static, o.meshedCidrs.map(staticDestination));
  const announcements = o.feed ? undefined : new Announcements({ dir: o.dir, writer: membership, clock: o.clock, log });
  await announcements?.start();
  o.feed?.start(membership);
  o.metrics.membershipEntries.set(membership.set.size);
  o.policy.feed?.start(policies);
  countPolicies();
  const policyKind = new PolicyKind(policies);
  const policySource: PoliciesReport['source'] = policyDir ? 'dir' : o.policy.feed ? 'kubernetes' : 'none';
  const bundle = bundleKind(o.bundle, o.jwtAuthorities);
  const config = configKind(instance, { inboundMode: o.defaultInboundMode });
  const registry = new StreamRegistry();
  const service = createMeshService({
    renewal: o.renewal, sources: [bundle, membership, config, policyKind], registry, clock: o.clock, log, metrics: o.metrics, encode: o.encode,
    announceLimiter: new RateLimiter(ANNOUNCE_RATE.perSecond, ANNOUNCE_RATE.burst, o.clock),
    ...(announcements ? { announce: (id: string, addresses: string[], notAfterMs: number) => announcements.announce(id, addresses, notAfterMs) } : {}),
    ...(o.peerCertificate ? { peerCertificate: o.peerCertificate } : {}),
    ...(o.peerCertError ? { peerCertError: o.peerCertError } : {}),
  });
  log.info({
    instance, meshedCidrs: o.meshedCidrs, defaultInboundMode: o.defaultInboundMode, entries: membership.set.size,
    membership: o.feed ? 'kubernetes' : 'static CIDRs and announcements',
    defaultPolicy: o.policy.defaultPolicy, policies: policySource, ...(policyDir ? { policyDir: o.policy.dir } : {}), policiesInForce: policies.counts().valid,
  }, 'mesh stream serving');
  const report = () => registry.report(o.replica, {
    [MESH_KINDS.trustBundle]: { version: bundle.version(ANY_PEER) },
    [MESH_KINDS.membership]: { version: membership.version(), entries: membership.set.size, ...(membership.served ? {} : { waitingFor: 'kubernetes' }) },
    [MESH_KINDS.config]: { version: config.version(ANY_PEER) },
    // Each sidecar has its own view: GET /policies shows who runs which version.
    [MESH_KINDS.policy]: { version: 'per-sidecar', entries: policies.counts().valid, ...(policies.served ? {} : { waitingFor: 'kubernetes' }) },
  });
  return {
    service, membership, policies, report,
    policyReport: () => policyKind.report(report(), policySource),
    onIssued: (i) => announcements?.extend(i.spiffeId, registry.announcedBy(i.spiffeId), i.notAfterMs),
    close: () => {
      service.drain();
      announcements?.close();
      policyDir?.close();
      void o.policy.feed?.close();
      unwatchPolicies();
      void o.feed?.close();
      bundle.close();
      unwatchSize();
    },
  };
}

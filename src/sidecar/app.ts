// The sidecar's composition root: builds logger, metrics, clock, readiness, the workload identity, the data path
// (datapath.ts, with its explicit and transparent listeners), the Workload API and certificate files (workload-api/)
// and the admin and health servers, and wires them.
import type { KeyObject } from 'node:crypto';
import { collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import { registerBuildInfo } from '../common/build-info.js';
import { parseHostPort } from '../common/address.js';
import { isoTime, systemClock, type Clock } from '../common/clock.js';
import { HeapTrimmer } from '../common/heap-trimmer.js';
import { createLogger, type Logger } from '../common/logger.js';
import { Readiness } from '../common/readiness.js';
import { startHttpServer, type RunningHttpServer } from '../admin/http-server.js';
import { adminRoutes, healthRoutes, type SidecarAdmin } from '../admin/sidecar-admin.js';
import type { ReadinessReport } from '../admin/probe-routes.js';
import type { SidecarStatus } from '../admin/status-types.js';
import { hasValidSvid } from '../identity/credentials.js';
import type { IdentityManager } from '../identity/manager.js';
import { registerIdentityMetrics } from '../identity/metrics.js';
import { buildWorkloadIdentity, type WorkloadIdentityOptions } from '../identity/workload-identity.js';
import type { KeyAlgorithm } from '../pki/keys.js';
import { AppHealth } from './app-probes/app-health.js';
import { ADMIN_ALLOW_REMOTE_KEY, caAddresses } from './config.js';
import { compilePolicy } from './authz.js';
import { planReload, withPolicies, type ReloadPlan } from './config-reload.js';
import type { SidecarConfig } from './config-schema.js';
import { startDataPath, type DataPathContext, type ListenerSource, type MeshView, type RunningDataPath } from './datapath.js';
import { SidecarMembership } from './mesh/sidecar-membership.js';
import { SidecarMeshConfig } from './mesh/mesh-config.js';
import { SidecarPolicy } from './mesh/sidecar-policy.js';
import { transparentListeners } from './intercept/transparent.js';
import { explicitListeners } from './listeners.js';
import { PodMetrics } from './pod-metrics/pod-metrics.js';
import { buildStatus, strandedAction } from './status-report.js';
import { accessPolicy } from '../workload-api/access.js';
import { CertFiles } from '../workload-api/cert-files.js';
import { JwtSvidCache } from '../workload-api/jwt-cache.js';
import { WorkloadApiServer } from '../workload-api/server.js';

/** Readiness part held while the sidecar drains, so the kubelet stops sending traffic first. */
export const DRAINING_PART = 'draining';

/** Everything a test (or another embedding) may replace. */
export interface SidecarDeps {
  clock?: Clock;
  log?: Logger;
  registry?: Registry;
  /** Replaces the gRPC client of the CA (see WorkloadIdentityOptions). */
  caClient?: WorkloadIdentityOptions['caClient'];
  random?: () => number;
  generateKey?: (alg: KeyAlgorithm) => Promise<KeyObject>;
  startDataPath?: (ctx: DataPathContext) => Promise<RunningDataPath>;
}

/** The listener sources a configuration asks for: explicit listeners, plus transparent mode's when enabled. */
export function listenerSources(config: SidecarConfig): ListenerSource[] {
  return [explicitListeners, ...(config.transparent.enabled ? [transparentListeners()] : [])];
}

/** The data path of `ctx.config`, with every listener it asks for bound. */
export function startSidecarDataPath(ctx: DataPathContext): Promise<RunningDataPath> {
  return startDataPath(ctx, listenerSources(ctx.config));
}

export interface RunningSidecar {
  config: SidecarConfig;
  log: Logger;
  registry: Registry;
  identity: IdentityManager;
  /** Bound admin address, e.g. "127.0.0.1:15000" (the real port when configured with 0). */
  adminAddress: string;
  healthAddress: string;
  /** Bound address of the pod's metrics port (`metrics.listen`), or undefined when it is off. */
  metricsAddress: string | undefined;
  status(): SidecarStatus;
  /** SIGHUP path: applies the inbound policies of `next` from the next connection or stream; names what needs a restart. */
  reload(next: SidecarConfig): ReloadPlan;
  /** SIGTERM path: not ready, drain listeners for up to config.drainTimeout, then close everything. */
  shutdown(): Promise<void>;
  /** Closes everything now. */
  close(): Promise<void>;
}

/** Builds and starts a sidecar from a validated config. Port conflicts and an unreadable bundle fail here. */
export async function buildSidecar(config: SidecarConfig, deps: SidecarDeps = {}): Promise<RunningSidecar> {
  const log = deps.log ?? createLogger({ level: config.logLevel, name: 'ztmesh-sidecar', ...(config.logFormat ? { format: config.logFormat } : {}) });
  const clock = deps.clock ?? systemClock;
  const registry = deps.registry ?? new Registry();
  if (!deps.registry) collectDefaultMetrics({ register: registry });
  registerBuildInfo(registry);
  const readiness = new Readiness();
  const addresses = caAddresses(config);
  // The mesh stream's consumers (sidecar/mesh/): the config kind always, membership in transparent mode, where the
  // sidecar is not ready before its first membership (from the CA, or kept in identity.stateDir).
  const membershipEntries = new Gauge({ name: 'ztmesh_mesh_membership_entries', help: 'Meshed destinations this sidecar holds (transparent mode).', registers: [registry] });
  const meshConfig = new SidecarMeshConfig(config.transparent.inboundMode, log.child({ component: 'mesh-config' }));
  const membership = config.transparent.enabled
    ? new SidecarMembership({
      clock, log, readiness, ...(config.identity.stateDir ? { stateDir: config.identity.stateDir } : {}),
      onChange: (n) => membershipEntries.set(n),
    })
    : undefined;
  // The authorization policy kind: a sidecar that serves inbound connections is not ready (and refuses them) before its
  // first set, from the CA or kept in identity.stateDir.
  const servesInbound = config.inbound.length > 0 || config.transparent.enabled;
  const policy = new SidecarPolicy({
    trustDomain: config.trustDomain, clock, log, ...(servesInbound ? { readiness } : {}),
    ...(config.identity.stateDir ? { stateDir: config.identity.stateDir } : {}),
  });

  const workload = await buildWorkloadIdentity({
    caAddresses: addresses, trustDomain: config.trustDomain, tokenFile: config.ca.tokenFile, bundleFile: config.ca.bundle,
    ttlMs: config.identity.ttl, keyAlgorithm: config.identity.keyAlgorithm, clock, log,
    ...(config.ca.serverName ? { serverName: config.ca.serverName } : {}),
    ...(config.identity.spiffeId ? { spiffeId: config.identity.spiffeId } : {}),
    ...(config.identity.stateDir ? { stateDir: config.identity.stateDir } : {}),
    ...(deps.caClient ? { caClient: deps.caClient } : {}),
    ...(deps.random ? { random: deps.random } : {}),
    ...(deps.generateKey ? { generateKey: deps.generateKey } : {}),
    meshConsumers: [meshConfig, policy, ...(membership ? [membership] : [])],
    announce: config.transparent.enabled,
  });
  const { identity, reachability } = workload;
  await membership?.restore();
  await policy.restore();
  registerIdentityMetrics(registry, identity, reachability);

  const heap = new HeapTrimmer({ clock, log: log.child({ component: 'heap' }) });
  const mesh: MeshView = {
    membership: membership ?? { view: () => ({ state: 'unsupported' }) },
    inboundMode: () => meshConfig.inboundMode(),
  };
  const datapath = await (deps.startDataPath ?? startSidecarDataPath)({
    config, identity, log, registry, clock, readiness, heap, mesh, policy, revokeEstablished: config.authz.revokeEstablished,
  });

  // The Workload API listens from the start (it answers Unavailable until the first SVID); the files follow the SVID.
  const wa = config.workloadApi;
  let workloadApi: WorkloadApiServer | undefined;
  if (wa.socket) {
    try {
      workloadApi = await WorkloadApiServer.start({
        socket: wa.socket, policy: accessPolicy(wa.allowUids, wa.allowGids, process.getuid?.() ?? -1), identity, jwtBundle: workload.jwtBundle,
        jwtSvids: new JwtSvidCache({ sign: (audiences) => workload.signJwtSvid(audiences, 0), clock, log: log.child({ component: 'jwt-svids' }) }),
        clock, log: log.child({ component: 'workload-api' }), registry,
      });
    } catch (e) {
      await membership?.close();
      await datapath.close();
      heap.close();
      throw e;
    }
  }
  const certFiles = wa.files ? new CertFiles(wa.files, { identity, clock, log: log.child({ component: 'cert-files' }) }) : undefined;

  const ready = (): ReadinessReport => {
    const snap = identity.current();
    const { pending } = readiness.report();
    if (!hasValidSvid(snap, clock.now())) pending.unshift(`identity (${snap.state})`);
    return { ready: pending.length === 0, pending };
  };
  const status = (): SidecarStatus => buildStatus({
    snapshot: identity.current(), stats: identity.stats(), ca: reachability.current(), addresses,
    bundleStream: workload.stream(), listeners: datapath.statuses(), tunnelPools: datapath.tunnelPools(), readiness: ready(),
    tokenFile: config.ca.tokenFile, spiffeId: config.identity.spiffeId, nowMs: clock.now(),
    workloadApi: wa.socket || certFiles ? { ...(workloadApi?.status() ?? { socket: null }), files: certFiles?.status() ?? null } : null,
    ...(membership ? {
      transparent: { membership: membership.status(), inboundMode: meshConfig.inboundMode(), outboundPolicy: config.transparent.outboundPolicy, traffic: datapath.meshTraffic() },
    } : {}),
    authz: { policy: policy.status(), revokeEstablished: config.authz.revokeEstablished },
  });
  // A stranded sidecar says so once, in one line with the command to run (docs/design.md "Identity states and failure codes").
  let stranded: string | null = null;
  const unsubscribeStranded = reachability.subscribe((ca) => {
    const action = strandedAction({ snapshot: identity.current(), ca, tokenFile: config.ca.tokenFile, spiffeId: config.identity.spiffeId, nowMs: clock.now() });
    if (action && action !== stranded) log.error({ event: 'stranded', code: ca.refusal?.code, tokenFile: config.ca.tokenFile }, action);
    stranded = action;
  });
  const admin: SidecarAdmin = {
    status,
    readiness: ready,
    metrics: async () => ({ contentType: registry.contentType, body: await registry.metrics() }),
    certs: () => {
      const snap = identity.current();
      return { chainPem: snap.svid?.chainPem ?? '', bundlePem: snap.bundle?.rootsPem ?? '' };
    },
    rotate: async () => {
      const r = await identity.forceRotate();
      return r.ok
        ? { ok: true, serial: r.svid.serialHex, notAfter: isoTime(r.svid.notAfterMs) }
        : { ok: false, error: { code: r.error.code, message: r.error.message } };
    },
  };

  const servers: RunningHttpServer[] = [];
  const closeAll = async () => {
    unsubscribeStranded();
    workload.stop();
    await workloadApi?.close();
    await certFiles?.stop();
    await membership?.close();
    await policy.close();
    await datapath.close();
    heap.close();
    await Promise.all(servers.map((s) => s.close()));
  };
  try {
    const a = parseHostPort(config.admin, 'admin');
    servers.push(await startHttpServer({
      ...a, routes: adminRoutes(admin), log: log.child({ component: 'admin' }), what: 'admin', clock,
      exposure: { kind: 'admin', remote: { allowed: config.adminAllowRemote, key: ADMIN_ALLOW_REMOTE_KEY } },
    }));
    const h = parseHostPort(config.health, 'health');
    const appHealth = new AppHealth(config.appProbes, { clock, log: log.child({ component: 'app-health' }) });
    servers.push(await startHttpServer({ ...h, routes: { ...healthRoutes(admin), ...appHealth.routes() }, log: log.child({ component: 'health' }), what: 'health', clock, exposure: { kind: 'health' } }));
    if (config.metrics.listen) {
      // Read-only and for Prometheus in the pod's network: a health-kind server (any IP-literal Host, every interface).
      const m = parseHostPort(config.metrics.listen, 'metrics.listen');
      const podMetrics = new PodMetrics({ registry, clock, log: log.child({ component: 'pod-metrics' }), ...(config.metrics.app ? { app: config.metrics.app } : {}) });
      servers.push(await startHttpServer({ ...m, routes: podMetrics.routes(), log: log.child({ component: 'metrics' }), what: 'metrics.listen', clock, exposure: { kind: 'health' } }));
    }
  } catch (e) {
    await closeAll();
    throw e;
  }

  certFiles?.start();
  workload.start();

  let closing: Promise<void> | undefined;
  let running = config;
  const reload = (next: SidecarConfig): ReloadPlan => {
    const plan = planReload(running, next);
    for (const p of plan.policies) {
      const applied = datapath.setPolicy(p.listener, compilePolicy(config.trustDomain, p.allow, p.defaultPolicy));
      log.info({ listener: p.listener, allow: p.allow ?? null, defaultPolicy: p.defaultPolicy, applied }, 'inbound policy reloaded: it applies from the next connection or tunnel stream');
    }
    if (plan.restartNeeded.length) log.warn({ keys: plan.restartNeeded }, 'configuration changes that take a restart were not applied');
    running = withPolicies(running, next);
    return plan;
  };
  return {
    config, log, registry, identity, reload,
    adminAddress: servers[0]!.address,
    healthAddress: servers[1]!.address,
    metricsAddress: servers[2]?.address,
    status,
    shutdown: () => (closing ??= (async () => {
      readiness.register(DRAINING_PART);
      log.info({ drainTimeoutMs: config.drainTimeout }, 'draining');
      await datapath.drain(config.drainTimeout);
      await closeAll();
    })()),
    close: () => (closing ??= closeAll()),
  };
}

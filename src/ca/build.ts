// The CA's composition root: reads the state dir, wires attestors, signer, bundle, gRPC and admin servers.
// `ztmesh ca serve` calls buildCaServer() once; tests and other commands may call it with their own deps.
import { hostname } from 'node:os';
import * as grpc from '@grpc/grpc-js';
import { HealthImplementation } from 'grpc-health-check';
import { ReflectionService } from '@grpc/reflection';
import { systemClock, type Clock } from '../common/clock.js';
import { ConfigError } from '../common/errors.js';
import { loadCaProto, CA_SERVICE_NAME, MESH_SERVICE_NAME } from '../common/ca-proto.js';
import type { Logger } from '../common/logger.js';
import { formatHostPort } from '../common/address.js';
import { Readiness } from '../common/readiness.js';
import { readNofileLimit } from '../common/fd-limit.js';
import { LogThrottle } from '../common/log-throttle.js';
import { HeapTrimmer } from '../common/heap-trimmer.js';
import { watchWorkingDir, workingDirProblem } from '../common/working-dir.js';
import { json, startHttpServer } from '../admin/http-server.js';
import { probeRoutes } from '../admin/probe-routes.js';
import type { CaServeConfig } from './config.js';
import { loadCaState, type SigningMaterial } from './state-dir.js';
import { JoinTokenStore } from './attestors/join-tokens.js';
import type { Attestor } from './attestors/attestor.js';
import { JoinTokenAttestor } from './attestors/join-token.js';
import { RenewalAttestor } from './attestors/renewal.js';
import { RateLimiter } from './signing/rate-limit.js';
import { createSigner, waitUntilReady } from './signing/signer.js';
import { SigningSwitch, chainOf } from './signing/signing-switch.js';
import { SigningMaterialWatch } from './signing/signing-material.js';
import { IssuanceLog } from './audit/issuance-log.js';
import { auditLine, IssuanceEvents } from './audit/issuance-events.js';
import { TrustBundleSource } from './root/trust-bundle.js';
import { loadPreviousRoot } from './root/root-rotation.js';
import { caSpiffeId } from '../common/mesh.js';
import { ServingIdentity } from './serving/serving-identity.js';
import { createCaMetrics } from './metrics.js';
import { createCaService } from './serving/service.js';
import { IssuedIdentities } from './audit/issued-ids.js';
import { rebuildFromIssuanceLog } from './audit/fleet-rebuild.js';
import { withBundleAcks } from './audit/bundle-acks.js';
import { TlsFrontDoor, type PeerTls } from './serving/tls-front-door.js';
import { GrpcHandOff } from '../common/grpc-hand-off.js';
import { fitConnectionCap } from './serving/connection-cap.js';
import { parseReservedGrants } from './signing/reserved-ids.js';
import { tolerantDecoders, transportRefusalInterceptor, type TransportRefusal } from '../common/grpc-call-guard.js';
import { JwtAuthoritySource } from './jwt/jwt-authorities.js';
import { startMeshPlane, type MembershipFeed } from './mesh/mesh-plane.js';
import { preEncodedMesh } from './mesh/mesh-service.js';
import type { PolicyFeed } from './policy/policy-store.js';
import { assertPolicyDir } from './policy/policy-dir.js';

/**
 * Largest request accepted: a CSR with an RSA-4096 key and a few SANs is under 2 KB. grpc-js checks the length
 * prefix before buffering, so a larger message costs no memory.
 */
export const MAX_REQUEST_BYTES = 64 * 1024;
/**
 * An established connection without a call for this long is closed (GOAWAY), so a peer that completes TLS and then
 * says nothing gives its slot back. Our clients never idle: a bundle stream is a call, a signing channel closes.
 */
export const CONNECTION_IDLE_MS = 30_000;
/** Concurrent calls on one connection; a sidecar uses one or two. */
export const MAX_STREAMS_PER_CONNECTION = 100;
/** Server keepalive pings find connections whose peer vanished (a node lost) instead of holding them forever. */
export const KEEPALIVE_TIME_MS = 60_000;
export const KEEPALIVE_TIMEOUT_MS = 20_000;
/** How often each replica prunes expired join-token records. */
export const TOKEN_PRUNE_INTERVAL_MS = 10 * 60_000;
const SIGN_METHOD = '/ztmesh.ca.v1.CertificateAuthority/SignCertificate';
const SIGN_JWT_METHOD = '/ztmesh.ca.v1.CertificateAuthority/SignJwtSvid';
/** How long start-up waits for the signer's first self-test before serving anyway (not ready) and retrying. */
export const SIGNER_START_WAIT_MS = 5_000;
/** How often the CA checks that its working directory still exists (signing workers cannot start without it). */
export const WORKING_DIR_CHECK_MS = 500;

export interface CaDeps {
  log: Logger;
  clock?: Clock;
  /** Attestors tried before the built-in ones (e.g. the Kubernetes TokenReview attestor from cli/). */
  extraAttestors?: readonly Attestor[];
  /** The signing worker script (default: the compiled sign-worker.js next to signer.js). */
  workerFile?: string;
  /**
   * The CA can no longer work and cannot recover by itself (its working directory was removed): it has already
   * turned not ready; the caller should drain (close()) and exit with this error.
   */
  onFatal?: (err: Error) => void;
  /** This replica's name in GET /identities and GET /mesh (default: the host name, the pod name on Kubernetes). */
  replica?: string;
  /** Membership from the Kubernetes watchers (k8s/mesh-watch.ts); without it, static CIDRs and announcements. */
  membershipFeed?: MembershipFeed;
  /** AuthorizationPolicies from the Kubernetes watch (k8s/policy-watch.ts); without it, --policy-dir or none. */
  policyFeed?: PolicyFeed;
}

/** A serving CA. close() drains: stop accepting, end streams, wait up to drainMs, then close. */
export interface RunningCa {
  trustDomain: string;
  /** The bound gRPC address, e.g. "127.0.0.1:43121" (the real port when --listen used port 0). */
  grpcAddress: string;
  grpcPort: number;
  adminAddress: string;
  adminPort: number;
  signerMode: string;
  close(): Promise<void>;
}

/** Builds and starts the CA; fails with ConfigError naming the file or flag when it cannot. */
export async function buildCaServer(config: CaServeConfig, deps: CaDeps): Promise<RunningCa> {
  const clock = deps.clock ?? systemClock;
  const log = deps.log.child({ component: 'ca' });
  const cwdProblem = workingDirProblem();
  if (cwdProblem) throw new ConfigError('working_dir_missing', `${cwdProblem}: signing workers cannot start; start the CA from an existing directory`);
  const state = await loadCaState(config.dir, config.trustDomain);
  if (config.policy.dir) await assertPolicyDir(config.policy.dir);
  if (state.keyMode & 0o077) {
    log.warn({ file: `${config.dir}/ca.key`, mode: state.keyMode.toString(8) }, 'the CA key is readable by group or others; chmod 600 it');
  }
  const reserved = { trustDomain: state.trustDomain, granted: parseReservedGrants(config.reservedGrants, state.trustDomain) };
  const nofile = await readNofileLimit();
  const limits = { ...config.connections, max: fitConnectionCap(config.connections.max, nofile) };
  if (limits.max < config.connections.max) {
    log.warn({ maxConnections: limits.max, requested: config.connections.max, openFileLimit: nofile }, 'connection cap lowered to fit the open-file limit');
  }
  const metrics = createCaMetrics();
  const audit = deps.log.child({ component: 'audit' });
  // Opened first: a log another process holds stops start-up before anything else has started.
  const issuanceLog = config.auditLog ? IssuanceLog.open({
    ...config.auditLog, clock, log,
    // The stdout witness of every record but issuances (whose own audit line carries it): `ca audit verify --head`.
    witness: (w) => audit.info(w, 'recorded'),
    onLost: (event) => metrics.auditRecordsLost.inc({ event }),
  }) : undefined;
  const readiness = new Readiness();
  const grpcReady = readiness.register('grpc');

  const previousRoot = await loadPreviousRoot(config.dir);
  const bundle = await TrustBundleSource.open({
    file: state.bundlePath, trustDomain: state.trustDomain, caChain: chainOf(state), previousRoots: previousRoot ? [previousRoot] : [],
    clock, log: deps.log.child({ component: 'trust-bundle' }),
  });
  const signerReady = readiness.register('signer');
  const buildSigner = (m: SigningMaterial) => createSigner({
    workers: config.signWorkers, issuer: m.issuer, keyPem: m.keyPem, caCertDer: m.caCertDer, trustDomain: state.trustDomain,
    log, clock, onWorkerFailure: () => metrics.signingWorkerFailures.inc(), ...(deps.workerFile ? { file: deps.workerFile } : {}),
  });
  // ca.pem/ca.key may change while serving (`ztmesh ca root activate`): the switch builds the new signer whole first.
  const signer = new SigningSwitch({
    initial: { material: state, signer: buildSigner(state), chain: chainOf(state) }, build: buildSigner,
    bundle: () => bundle.current(), bundlePath: state.bundlePath, clock, log,
  });
  const tokens = new JoinTokenStore(config.dir);
  const renewal = new RenewalAttestor(() => bundle.current().roots, () => signer.current().chain.intermediates, state.trustDomain, clock);
  const attestors: Attestor[] = [...(deps.extraAttestors ?? []), new JoinTokenAttestor(tokens, state.trustDomain, clock), renewal];
  // JWT signing keys derive from the signing key in force, so replicas agree without writing (ca/jwt/jwt-keys.ts).
  const jwtAuthorities = new JwtAuthoritySource({
    material: state, schedule: { periodMs: config.jwt.keyPeriodMs, maxTtlMs: config.jwt.maxTtlMs }, clock, log: deps.log.child({ component: 'jwt-keys' }),
  });
  // "serving" should mean "able to sign": give the workers their self-test first (they keep retrying if it fails).
  const signerStarted = waitUntilReady(signer.health, clock, SIGNER_START_WAIT_MS);
  const identity = new ServingIdentity({
    trustDomain: state.trustDomain, dnsNames: config.dnsNames, ttlMs: config.defaultTtlMs, issuer: state.issuer,
    intermediatesDer: state.intermediatesDer, clock, log: deps.log.child({ component: 'serving-cert' }),
  });
  identity.start();
  const unsubscribeBundle = bundle.subscribe((b) => {
    identity.setClientRoots(b.pem);
    identity.setBridge(signer.bridge().bridgeDer);
    metrics.bundleSequence.set(b.sequence);
  });
  const unsubscribeSwitch = signer.onSwitch((g) => {
    identity.setIssuer(g.material.issuer, g.material.intermediatesDer, signer.bridge(g).bridgeDer);
    jwtAuthorities.switchTo(g.material);
    void bundle.setCaChain(g.chain);
  });
  const materialWatch = new SigningMaterialWatch({
    dir: config.dir, trustDomain: state.trustDomain, current: () => signer.current().material, onMaterial: (m) => signer.switchTo(m),
    clock, log: deps.log.child({ component: 'signing-files' }),
  });
  await materialWatch.start();
  metrics.servingCertExpiry.set(identity.notAfterMs / 1000);

  let door: TlsFrontDoor | undefined;
  const replica = deps.replica ?? hostname();
  const issuedIds = new IssuedIdentities({ clock, windowMs: config.maxTtlMs, replica });
  if (config.auditLog) {
    // The view survives a restart: what this replica issued within the max TTL is in its issuance log.
    try {
      const from = await rebuildFromIssuanceLog(config.auditLog.file, issuedIds, clock.now(), config.maxTtlMs);
      log.info({ auditLog: from.auditLog, records: from.records, identities: from.identities }, 'fleet view rebuilt from the issuance log');
    } catch (e) {
      log.warn({ auditLog: config.auditLog.file, err: (e as Error).message }, 'fleet view not rebuilt: the issuance log could not be read; it fills as sidecars renew');
    }
  }
  const { packageDefinition, proto } = loadCaProto();
  const meshDefinition = proto.ztmesh.mesh.v1.Mesh.service;
  const mesh = await startMeshPlane({
    encode: (u) => meshDefinition.Stream.responseSerialize(u),
    dir: config.dir, meshedCidrs: config.mesh.meshedCidrs, defaultInboundMode: config.mesh.defaultInboundMode, bundle, jwtAuthorities, renewal, clock, log: deps.log,
    metrics, replica, peerCertificate: (peer) => door?.peerCertificate(peer), peerCertError: (peer) => door?.peerInfo(peer)?.certError,
    ...(deps.membershipFeed ? { feed: deps.membershipFeed } : {}),
    policy: { defaultPolicy: config.policy.defaultPolicy, ...(config.policy.dir ? { dir: config.policy.dir } : {}), ...(deps.policyFeed ? { feed: deps.policyFeed } : {}) },
  });
  // One event per issuance: the issuance log records it, then the audit line, the fleet view and the mesh plane get it.
  const events = new IssuanceEvents({ recorder: issuanceLog, signTotal: metrics.signTotal, jwtSignTotal: metrics.jwtSignTotal, log, clock });
  events.subscribe(auditLine(audit));
  events.subscribe((i) => issuedIds.record(i));
  events.subscribe((i) => mesh.onIssued(i));
  const service = createCaService({
    peerCertError: (peer) => door?.peerInfo(peer)?.certError,
    peerCertificate: (peer) => door?.peerCertificate(peer),
    attestors, signer, bundle, clock, metrics, log, events,
    rateLimiter: new RateLimiter(config.rate.perSecond, config.rate.burst, clock),
    ttl: { defaultTtlMs: config.defaultTtlMs, minTtlMs: config.minTtlMs, maxTtlMs: config.maxTtlMs },
    reserved,
    jwt: {
      authorities: jwtAuthorities, svidAttestor: renewal, ttl: { defaultTtlMs: config.jwt.defaultTtlMs, maxTtlMs: config.jwt.maxTtlMs },
      rateLimiter: new RateLimiter(config.rate.perSecond, config.rate.burst, clock), audit,
    },
  });
  // One line budget for refusals grpc-js makes itself of calls that do not sign (IssuanceEvents accounts for the others).
  const callLog = new LogThrottle(clock);
  const reportTransportRefusal = (r: TransportRefusal) => {
    const line = { peer: r.peer, code: r.code, grpcCode: r.grpcCode, detail: r.details };
    // The caller's own deadline ran out: nothing was refused (the handler still finishes and reports its outcome).
    if (r.code === 'deadline_exceeded') {
      log.debug({ ...line, method: r.method }, 'call deadline exceeded');
      return;
    }
    if (r.method === SIGN_METHOD) return events.refused({ peer: r.peer, code: r.code, grpcCode: r.grpcCode, detail: r.details });
    if (r.method === SIGN_JWT_METHOD) return events.refused({ rpc: 'SignJwtSvid', peer: r.peer, code: r.code, grpcCode: r.grpcCode, detail: r.details });
    const suppressed = callLog.admit();
    if (suppressed !== undefined) log.warn({ ...line, method: r.method, ...(suppressed ? { suppressed } : {}) }, 'call refused');
  };
  const server = new grpc.Server({
    'grpc.max_receive_message_length': MAX_REQUEST_BYTES,
    // Channelz bookkeeping costs CPU on every call and nothing here reads it.
    'grpc.enable_channelz': 0,
    'grpc.max_connection_idle_ms': CONNECTION_IDLE_MS,
    'grpc.max_concurrent_streams': MAX_STREAMS_PER_CONNECTION,
    'grpc.keepalive_time_ms': KEEPALIVE_TIME_MS,
    'grpc.keepalive_timeout_ms': KEEPALIVE_TIMEOUT_MS,
    interceptors: [transportRefusalInterceptor(reportTransportRefusal)],
  });
  server.addService(tolerantDecoders(proto.ztmesh.ca.v1.CertificateAuthority.service), service.handlers);
  server.addService(preEncodedMesh(tolerantDecoders(meshDefinition)), mesh.service.handlers);
  const health = new HealthImplementation({ '': 'NOT_SERVING', [CA_SERVICE_NAME]: 'NOT_SERVING', [MESH_SERVICE_NAME]: 'NOT_SERVING' });
  health.addToServer(server);
  // gRPC health (what the Kubernetes readiness probe asks) follows /readyz: SERVING only while every part is ready.
  const syncHealth = () => {
    const st = readiness.isReady() ? 'SERVING' : 'NOT_SERVING';
    health.setStatus('', st);
    health.setStatus(CA_SERVICE_NAME, st);
    health.setStatus(MESH_SERVICE_NAME, st);
  };
  const unsubscribeSigner = signer.health.subscribe((h) => {
    if (h.ready) signerReady.ready();
    else signerReady.notReady();
    syncHealth();
  });
  // A removed working directory: no signing worker can start again, and relative paths point nowhere.
  const stopCwdWatch = watchWorkingDir(clock, WORKING_DIR_CHECK_MS, (problem) => {
    readiness.register('working-directory');
    syncHealth();
    const err = new ConfigError('working_dir_missing', `${problem} while the CA was running: signing workers cannot be rebuilt; start the CA from an existing directory`);
    log.error({ code: err.code, err: err.message }, 'CA not ready: working directory removed; stopping');
    deps.onFatal?.(err);
  });
  new ReflectionService(packageDefinition).addToServer(server);
  // TLS is done by the front door (client certificates requested for renewals, not required for tokens);
  // grpc-js gets the established TLS sockets through a connection injector.
  const injector = server.createConnectionInjector(grpc.ServerCredentials.createInsecure());

  const pruneTokens = () => {
    tokens.prune(clock.now()).then(
      (n) => { if (n > 0) log.info({ removed: n }, 'expired join tokens pruned'); },
      (e: NodeJS.ErrnoException) => log.debug({ err: e.code ?? e.message }, 'join tokens not pruned'),
    ).finally(() => { if (!pruneStopped) pruneTimer = clock.setTimeout(pruneTokens, TOKEN_PRUNE_INTERVAL_MS); });
  };
  let pruneStopped = false;
  let pruneTimer = clock.setTimeout(pruneTokens, 0);
  const heap = new HeapTrimmer({ clock, log: deps.log.child({ component: 'heap' }) });
  const cleanup: (() => Promise<void> | void)[] = [
    () => signer.close(), () => bundle.close(), () => jwtAuthorities.close(), () => mesh.close(), unsubscribeBundle, unsubscribeSwitch, () => materialWatch.close(), () => identity.stop(), () => heap.close(),
    () => issuanceLog?.close(),
    () => { pruneStopped = true; pruneTimer.cancel(); }, unsubscribeSigner, stopCwdWatch,
  ];
  const runCleanup = async () => { for (const c of cleanup.reverse()) await c(); };
  await signerStarted;
  try {
    door = await TlsFrontDoor.listen({
      host: config.listen.host, port: config.listen.port, context: identity.secureContext(), limits, metrics, clock, heap,
      handOff: new GrpcHandOff<PeerTls>(injector), log: deps.log.child({ component: 'tls' }),
    });
  } catch (e) {
    await runCleanup();
    throw e;
  }
  const frontDoor = door;
  cleanup.push(identity.onChange((c) => {
    frontDoor.setContext(c);
    metrics.servingCertExpiry.set(identity.notAfterMs / 1000);
  }));
  const grpcPort = frontDoor.port;
  cleanup.push(async () => {
    await frontDoor.close();
    injector.destroy();
    frontDoor.destroyAll();
  });
  grpcReady.ready();
  syncHealth();

  let admin;
  try {
    admin = await startHttpServer({
      host: config.admin.host, port: config.admin.port, log, what: '--admin', clock,
      exposure: { kind: 'admin', remote: { allowed: config.adminAllowRemote, key: '--admin-allow-remote' } },
      routes: {
        ...probeRoutes(() => {
          const report = readiness.report();
          return report.ready ? report : { ...report, signer: signer.health.get().detail };
        }),
        'GET /metrics': async () => ({ status: 200, body: await metrics.registry.metrics(), contentType: metrics.registry.contentType }),
        'GET /identities': () => json(200, withBundleAcks(issuedIds.report(), mesh.report())),
        'GET /mesh': () => json(200, mesh.report()),
        'GET /policies': () => json(200, mesh.policyReport()),
      },
    });
  } catch (e) {
    server.forceShutdown();
    await runCleanup();
    throw e;
  }
  const adminServer = admin;
  const grpcAddress = formatHostPort(config.listen.host, grpcPort);
  log.info({
    spiffeId: caSpiffeId(state.trustDomain), signer: signer.mode, maxConnections: limits.max, maxConnectionsPerSource: limits.maxPerSource,
    handshakeTimeoutMs: limits.handshakeTimeoutMs, grantedReservedIds: [...reserved.granted],
  }, 'CA identity ready');

  let closing: Promise<void> | undefined;
  return {
    trustDomain: state.trustDomain,
    grpcAddress,
    grpcPort,
    adminAddress: adminServer.address,
    adminPort: adminServer.port,
    signerMode: signer.mode,
    close() {
      closing ??= (async () => {
        grpcReady.notReady();
        health.setStatus('', 'NOT_SERVING');
        health.setStatus(CA_SERVICE_NAME, 'NOT_SERVING');
        health.setStatus(MESH_SERVICE_NAME, 'NOT_SERVING');
        service.drain();
        mesh.service.drain();
        const stopped = frontDoor.close();
        injector.drain(config.drainMs);
        const drained = new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
        let timer: NodeJS.Timeout | undefined;
        const deadline = new Promise<void>((resolve) => {
          timer = setTimeout(() => { server.forceShutdown(); frontDoor.destroyAll(); resolve(); }, config.drainMs);
        });
        await Promise.race([drained, deadline]);
        clearTimeout(timer);
        frontDoor.destroyAll();
        await stopped;
        await adminServer.close();
        cleanup.pop();
        await runCleanup();
      })();
      return closing;
    },
  };
}

// Inbound mTLS: accepted TCP sockets go through the front door (front-door/: bounds, deadline, TLS 1.3 with a required
// client certificate); then the peer's SVID and the policy decide, and a raw connection is forwarded to the app once,
// a tunnel (ALPN h2) stream by stream.
import type net from 'node:net';
import type tls from 'node:tls';
import { formatPeer } from '../../common/address.js';
import type { Clock } from '../../common/clock.js';
import type { Logger } from '../../common/logger.js';
import { checkLeafSvid } from '../../pki/leaf-svid.js';
import { spiffeIdOf } from '../../pki/cert-ids.js';
import { certExpired, certNotAfterMs } from '../../pki/validity.js';
import type { AdmissionLimits } from '../../front-door/admission.js';
import { FrontDoor, type Detect, type DoorConnection } from '../../front-door/front-door.js';
import type { InboundMode } from '../../mesh/kinds.js';
import type { AppSocketBuffers } from '../app-buffers.js';
import { AppForwarder } from './app-forward.js';
import { authorize, compilePolicy, isOpenPolicy, type AuthzPolicy } from '../authz.js';
import type { InboundConfig } from '../config-schema.js';
import type { ConnectionSet } from '../connection-set.js';
import type { ConnectionReporter, DataPathMetrics } from '../datapath-metrics.js';
import type { LivenessSweep } from '../liveness-sweep.js';
import { plainLeg, resetLeg, type SocketLeg } from '../pipe.js';
import { REASONS, verifyErrorReason } from '../reasons.js';
import type { TlsContextHolder } from '../tls-context.js';
import { TunnelAcceptor } from '../tunnel/server.js';
import { TUNNEL_ALPN, type TunnelLimits } from '../tunnel/protocol.js';
import type { InboundRoute } from './route.js';

/** Permissive inbound mode (transparent inbound only): a client that does not start TLS is forwarded without an identity. */
export interface PermissiveInbound {
  /** The inbound mode now (the config, else the CA's mesh-wide default), read per connection. */
  mode(): InboundMode;
  /** How long a client may say nothing before it is taken as plaintext (server-speaks-first). */
  detectionTimeoutMs: number;
  /** Counts one plaintext connection forwarded. */
  onPlaintext(): void;
}

export interface InboundOptions {
  policy: AuthzPolicy;
  /** Transparent inbound: the inbound mode and what permissive mode needs; without it, strict. */
  permissive?: PermissiveInbound;
  handshakeTimeoutMs: number;
  idleTimeoutMs: number;
  /** Bounds on unfinished handshakes (front-door/admission.ts). */
  limits: Pick<AdmissionLimits, 'maxPending' | 'maxPendingPerSource'>;
  /** Tunnel streams carried at once, like maxConnections for raw ones (default: unbounded here). */
  maxConnections?: number;
}

export interface InboundDeps {
  contexts: TlsContextHolder;
  clock: Clock;
  reporter: ConnectionReporter;
  /** This listener's open connections, inside the data path's set. */
  connections: ConnectionSet;
  /** Told when a burst of unfinished handshakes is over, to give their freed native memory back (common/heap-trimmer.ts). */
  heap?: { request(): void };
  /** Accepting tunnels (ALPN h2) beside raw mTLS: the data path's metrics and the tunnels' bounds. */
  tunnels?: { metrics: DataPathMetrics; limits: TunnelLimits };
  /** The data path's shared read buffer, which connections to the app read into (shared-read.ts). */
  readBuffer?: Uint8Array;
  /** Sizes the kernel buffers of the sockets to the app (app-buffers.ts). */
  appBuffers?: AppSocketBuffers;
  /** Notices peers that left while their connection is paused, and tunnel sessions HTTP/2 ended (liveness-sweep.ts). */
  sweep?: LivenessSweep;
}

/** The configuration keys an inbound listener has, explicit or transparent (config-schema.ts). */
export type InboundListenerConfig = Pick<InboundConfig,
  'allow' | 'defaultPolicy' | 'handshakeTimeout' | 'idleTimeout' | 'maxConnections' | 'maxPendingHandshakes' | 'maxPendingHandshakesPerSource'>;

/** An inbound listener's options from its configuration; says once at start when its policy admits everyone or no one. */
export function inboundOptions(cfg: InboundListenerConfig, trustDomain: string, log: Logger): InboundOptions {
  const policy = compilePolicy(trustDomain, cfg.allow, cfg.defaultPolicy);
  if (isOpenPolicy(policy)) log.info({ trustDomain }, `inbound policy is open: any identity of ${trustDomain} may connect (set allow or defaultPolicy: deny to restrict)`);
  else if (!policy.allow) log.info('inbound policy denies every peer (defaultPolicy: deny and no allow list)');
  return {
    policy, handshakeTimeoutMs: cfg.handshakeTimeout, idleTimeoutMs: cfg.idleTimeout, maxConnections: cfg.maxConnections,
    limits: { maxPending: cfg.maxPendingHandshakes, maxPendingPerSource: cfg.maxPendingHandshakesPerSource },
  };
}

/** ALPN on the inbound port: h2 when the client offers it (a tunnel), else its own first choice (raw mTLS). */
function chooseAlpn({ protocols }: { protocols: string[] }): string | undefined {
  return protocols.includes(TUNNEL_ALPN) ? TUNNEL_ALPN : protocols[0];
}

function ignore(): void {}

/**
 * Handles accepted TCP sockets for one inbound policy. Composable: the explicit listener and transparent mode both
 * call handle(raw, route) with sockets they accepted; the front door (front-door/) takes each to its secure
 * connection, and from there this handler checks the peer's SVID and policy, then forwards or accepts a tunnel.
 */
export class InboundHandler {
  private readonly door: FrontDoor<InboundRoute>;
  private readonly forwarder: AppForwarder;
  /** Permissive mode's step before TLS, when the listener has one. */
  private readonly detectPlaintext: Detect<InboundRoute> | undefined;
  private policy: AuthzPolicy;
  private readonly unsubscribe: () => void;
  /** This listener's tunnel sessions, when it accepts tunnels. */
  readonly tunnels: TunnelAcceptor | undefined;

  constructor(private readonly deps: InboundDeps, opts: InboundOptions) {
    this.policy = opts.policy;
    const { reporter } = deps;
    const permissive = opts.permissive;
    this.detectPlaintext = permissive
      ? { silenceMs: Math.min(permissive.detectionTimeoutMs, opts.handshakeTimeoutMs), notTls: (conn, silent) => this.plaintext(conn, silent, permissive) }
      : undefined;
    // Nothing is forwarded unless `authorized` is true, a certificate is present and the policy allows its ID.
    this.door = new FrontDoor<InboundRoute>({
      tls: {
        requestCert: true,
        minVersion: 'TLSv1.3',
        // ALPNProtocols would refuse a client offering only other protocols (no_application_protocol); raw mTLS
        // clients keep being served whatever they offer.
        ...(deps.tunnels ? { ALPNCallback: chooseAlpn } : {}),
      },
      limits: { ...opts.limits, handshakeTimeoutMs: opts.handshakeTimeoutMs },
      clock: deps.clock, log: reporter.log, ...(deps.heap ? { heap: deps.heap } : {}),
      report: { refused: (peer, reason, detail) => reporter.refused(peer, reason, { detail }), abandoned: (peer, detail) => reporter.abandoned(peer, detail) },
      established: (t, conn) => this.onSecure(t, conn),
      // Permissive mode is the front door's step before TLS, inside the same admission and deadline; read per connection.
      ...(permissive ? { detect: () => (permissive.mode() === 'permissive' ? this.detectPlaintext : undefined) } : {}),
    });
    this.forwarder = new AppForwarder({
      clock: deps.clock, reporter, dialTimeoutMs: opts.handshakeTimeoutMs, idleTimeoutMs: opts.idleTimeoutMs,
      ...(deps.readBuffer ? { readBuffer: deps.readBuffer } : {}), ...(deps.appBuffers ? { appBuffers: deps.appBuffers } : {}),
      ...(deps.sweep ? { sweep: deps.sweep } : {}),
    });
    this.tunnels = deps.tunnels
      ? new TunnelAcceptor(
        {
          contexts: deps.contexts, clock: deps.clock, reporter, connections: deps.connections, metrics: deps.tunnels.metrics,
          forwarder: this.forwarder, ...(deps.sweep ? { sweep: deps.sweep } : {}),
        },
        { limits: deps.tunnels.limits, policy: () => this.policy, maxStreams: opts.maxConnections ?? Number.MAX_SAFE_INTEGER },
      )
      : undefined;
    this.unsubscribe = deps.contexts.subscribe((m) => this.door.setContext({ ...m.serverOptions }));
  }

  /**
   * Replaces the policy; applies from the next handshake (resumed sessions included) and the next tunnel stream. A
   * tunnel connection of a peer it no longer admits has its streams refused, and closes after its idle time.
   */
  setPolicy(policy: AuthzPolicy): void {
    this.policy = policy;
  }

  /** Connections accepted and not yet closed (handshaking or forwarding). */
  activeCount(): number {
    return this.deps.connections.size;
  }

  /** Connections whose handshake has not finished yet. */
  pendingCount(): number {
    return this.door.pendingCount;
  }

  /** Resolves once no connection is open. */
  whenIdle(): Promise<void> {
    return this.deps.connections.whenIdle();
  }

  /** Takes one accepted TCP socket through the front door, authorization and forwarding; fails closed without an SVID. */
  handle(raw: net.Socket, route: InboundRoute): void {
    if (!this.deps.contexts.usable()) {
      raw.on('error', ignore);
      this.deps.reporter.refused(formatPeer(raw.remoteAddress, raw.remotePort), REASONS.noSvid);
      resetLeg(plainLeg(raw));
      return;
    }
    this.deps.connections.track(raw);
    this.door.handle(raw, route);
  }

  /** Resets every open connection (the end of a drain). */
  destroyAll(): void {
    this.deps.connections.destroyAll();
  }

  /** Stops taking new tunnel streams (GOAWAY); the open ones finish. */
  drainTunnels(): void {
    this.tunnels?.drain();
  }

  dispose(): void {
    this.unsubscribe();
    this.tunnels?.dispose();
  }

  /**
   * Permissive mode, a client that did not start TLS: forwarded to the app without an identity, counted and logged at
   * debug. Only an open policy admits it: an allow-list (or default deny) names identities, and it has none.
   */
  private plaintext(conn: DoorConnection<InboundRoute>, silent: boolean, permissive: PermissiveInbound): void {
    const { raw, peer, context: route } = conn;
    if (!isOpenPolicy(this.policy)) {
      this.deps.reporter.refused(peer, REASONS.spiffeIdDenied, { detail: 'a plaintext client (permissive mode) has no identity, and this inbound allows only listed ones' });
      return resetLeg(plainLeg(raw));
    }
    raw.allowHalfOpen = true;
    permissive.onPlaintext();
    this.deps.reporter.log.debug({ peer, silent }, silent ? 'inbound plaintext (the client sent nothing first): forwarded without an identity' : 'inbound plaintext: forwarded without an identity');
    this.forwarder.forward(plainLeg(raw), route, { peer, peerId: undefined, resumed: false });
  }

  /** TLS is up: the peer's certificate, the SVID rules and the policy, then a tunnel or the forward to the app. */
  private onSecure(t: tls.TLSSocket, conn: DoorConnection<InboundRoute>): void {
    const { raw, peer, context: route } = conn;
    const leg: SocketLeg = { stream: t, tcp: raw };
    t.on('error', ignore); // before splice() takes over, a reset peer must not crash the process
    t.allowHalfOpen = true;
    raw.allowHalfOpen = true;
    const refuse = (reason: string, peerId?: string, detail?: string) => {
      this.deps.reporter.refused(peer, reason, { peerId, detail });
      resetLeg(leg);
    };
    // Once per handshake: node's cheap X509Certificate and its subjectAltName, never a full ASN.1 parse.
    const cert = t.getPeerX509Certificate();
    if (!cert) return refuse(REASONS.noClientCert);
    if (!t.authorized) {
      const code = typeof t.authorizationError === 'string' ? t.authorizationError : String(t.authorizationError);
      return refuse(verifyErrorReason(code), spiffeIdOf(cert), code);
    }
    // Resumed sessions too: a ticket is sent before this check refuses a full handshake, and it carries the certificate.
    const svid = checkLeafSvid(cert);
    if (!svid.ok) return refuse(REASONS.invalidSvid, svid.spiffeId, `${svid.code}: ${svid.detail}`);
    const peerId = svid.spiffeId;
    // A resumed session skips chain verification: the certificate must still be within its validity.
    const notAfterMs = certNotAfterMs(cert);
    if (t.isSessionReused() && certExpired(notAfterMs, this.deps.clock.now())) {
      return refuse(REASONS.certExpired, peerId, 'resumed session');
    }
    // Policy before resources: an identity no stream could ever be admitted for gets no tunnel session either.
    const decision = authorize(peerId, this.policy);
    if (!decision.allow) return refuse(decision.reason, peerId, decision.detail);
    // A tunnel: each of its streams is authorized again against the policy in force when it opens.
    if (t.alpnProtocol === TUNNEL_ALPN && this.tunnels && route.targets) {
      t.allowHalfOpen = false;
      raw.allowHalfOpen = false;
      this.tunnels.accept(t, raw, {
        peer, peerId, certNotAfterMs: notAfterMs, serial: cert.serialNumber.toLowerCase(), resumed: t.isSessionReused(), targets: route.targets,
      });
      return;
    }
    this.forwarder.forward(leg, route, { peer, peerId, resumed: t.isSessionReused() });
  }
}

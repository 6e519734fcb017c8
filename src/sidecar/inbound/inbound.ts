// Inbound mTLS: accepted TCP sockets go through the front door (front-door/: bounds, deadline, TLS 1.3 with a required
// client certificate); then the peer's SVID and the policy decide, and a raw connection is forwarded to the app once,
// a tunnel (ALPN h2) stream by stream. Every decision is the one authorization step (authz.ts InboundAuthorizer), and a
// policy change re-decides every forward open now, closing those it no longer allows (policy_revoked).
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
import { compilePolicy, isOpenPolicy, type AuthzDecision, type AuthzPolicy, type InboundAuthorizer } from '../authz.js';
import type { InboundConfig } from '../config-schema.js';
import type { ConnectionSet } from '../connection-set.js';
import type { ConnectionReporter, DataPathMetrics } from '../datapath-metrics.js';
import type { LivenessSweep } from '../liveness-sweep.js';
import { plainLeg, resetLeg, type SocketLeg } from '../pipe.js';
import { REASONS, verifyErrorReason } from '../reasons.js';
import type { TlsContextHolder } from '../tls-context.js';
import { TunnelAcceptor } from '../tunnel/server.js';
import { TUNNEL_ALPN, type TunnelLimits } from '../tunnel/protocol.js';
import { HANDOFF_ALPN } from '../tunnel/handoff.js';
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
  /** The data path's one authorization step: the CA's policy in force and this listener's own (`local`). */
  authz: InboundAuthorizer;
  /** Close established connections and streams a policy change no longer allows (authz.revokeEstablished). */
  revokeEstablished: boolean;
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
  if (isOpenPolicy(policy)) log.info({ trustDomain }, 'inbound: no allow list of its own: the CA\'s policies and the mesh default decide (set allow or defaultPolicy: deny to add one)');
  else if (policy.local?.patterns.length === 0) log.info('inbound: its own policy allows nobody (defaultPolicy: deny and no allow list): only the CA\'s ALLOW policies admit');
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
  private readonly handshakeTimeoutMs: number;
  private readonly unsubscribe: () => void;
  /** This listener's tunnel sessions, when it accepts tunnels. */
  readonly tunnels: TunnelAcceptor | undefined;

  constructor(private readonly deps: InboundDeps, opts: InboundOptions) {
    this.policy = opts.policy;
    this.handshakeTimeoutMs = opts.handshakeTimeoutMs;
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
          forwarder: this.forwarder, ...(deps.sweep ? { sweep: deps.sweep } : {}), ...(deps.readBuffer ? { readBuffer: deps.readBuffer } : {}),
        },
        { limits: deps.tunnels.limits, authorize: (peer, peerId, port) => this.authorize(peer, peerId, port), maxStreams: opts.maxConnections ?? Number.MAX_SAFE_INTEGER },
      )
      : undefined;
    this.unsubscribe = deps.contexts.subscribe((m) => this.door.setContext({ ...m.serverOptions }));
  }

  /**
   * Replaces the listener's own policy; applies from the next handshake (resumed sessions included) and the next
   * tunnel stream, and to the forwards open now as a change of the CA's policy does (reauthorize()).
   */
  setPolicy(policy: AuthzPolicy): void {
    this.policy = policy;
    this.reauthorize();
  }

  /**
   * Live revocation: decides every forward open now again (raw connections and tunnel streams, plaintext ones too)
   * under the policy in force, and cuts each one it no longer allows, counted and logged with `policy_revoked`. Off
   * with authz.revokeEstablished false. Returns how many were cut.
   */
  reauthorize(): number {
    if (!this.deps.revokeEstablished) return 0;
    const { authz, reporter } = this.deps;
    let cut = 0;
    for (const f of this.forwarder.live()) {
      const d = authz.recheck(f.who.peerId, this.policy, f.port);
      if (d.allow) continue;
      f.cut();
      cut++;
      authz.revoked(d.policy);
      reporter.revoked(f.who.peer, { peerId: f.who.peerId, ...authz.fields(d, f.port) });
    }
    return cut;
  }

  /** The one authorization step of this listener, counted; a refusal is reported here, naming the deciding policy. */
  private authorize(peer: string, peerId: string | undefined, port: number): AuthzDecision {
    const { authz, reporter } = this.deps;
    const d = authz.check({ peer, peerId, port, policy: this.policy });
    if (!d.allow) reporter.refused(peer, d.reason, { peerId, ...authz.fields(d, port) });
    return d;
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
    // A plaintext client has no identity: it matches only rules that name no peer (and the mesh default allow).
    if (!this.authorize(peer, undefined, route.forward.port).allow) return resetLeg(plainLeg(raw));
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
    // Policy before resources: an identity the policy refuses on this route's port gets no tunnel session either.
    if (!this.authorize(peer, peerId, route.forward.port).allow) return resetLeg(leg);
    // A tunnel: each of its streams is authorized again against the policy in force when it opens.
    if (t.alpnProtocol === TUNNEL_ALPN && this.tunnels && route.targets) {
      t.allowHalfOpen = false;
      raw.allowHalfOpen = false;
      this.tunnels.accept(t, raw, {
        peer, peerId, certNotAfterMs: notAfterMs, serial: cert.serialNumber.toLowerCase(), resumed: t.isSessionReused(), targets: route.targets,
      });
      return;
    }
    // A handoff: the connection takes the place of one of this peer's tunnel streams, or is refused (its first bytes
    // are a join request, never an app's).
    if (t.alpnProtocol === HANDOFF_ALPN) {
      if (this.tunnels && route.targets) return this.tunnels.join(leg, { peer, peerId }, this.handshakeTimeoutMs);
      return refuse(REASONS.handoffRefused, peerId, 'this listener takes no tunnels');
    }
    this.forwarder.forward(leg, route, { peer, peerId, resumed: t.isSessionReused() });
  }
}

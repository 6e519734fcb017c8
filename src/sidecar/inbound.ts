// Inbound mTLS: takes accepted TCP sockets, terminates TLS 1.3 with a required client certificate and checks the
// peer's SVID; a raw connection is authorized once and forwarded to the app, a tunnel (ALPN h2) stream by stream.
import type net from 'node:net';
import tls from 'node:tls';
import type { Clock, TimerHandle } from '../common/clock.js';
import type { HostPort } from '../common/address.js';
import { describe } from '../common/errors.js';
import { injectConnection, rawSocketOf } from '../common/node-internals.js';
import { checkLeafSvid } from '../pki/leaf-svid.js';
import { spiffeIdOf } from '../pki/cert-ids.js';
import type { AppSocketBuffers } from './app-buffers.js';
import { dialApp } from './app-forward.js';
import type { SharedBufferReader } from './shared-read.js';
import { authorize, isOpenPolicy, type AuthzPolicy } from './authz.js';
import { detectFirstBytes } from './first-byte.js';
import type { InboundMode } from '../mesh/kinds.js';
import type { ConnectionSet } from './connection-set.js';
import { peerLabel, type ConnectionReporter, type DataPathMetrics } from './datapath-metrics.js';
import { PendingHandshakes, type HandshakeLimits } from './handshake-gate.js';
import type { LivenessSweep } from './liveness-sweep.js';
import { closeLeg, plainLeg, resetLeg, splice, type SocketLeg } from './pipe.js';
import { REASONS, tlsErrorReason, verifyErrorReason } from './reasons.js';
import type { TlsContextHolder } from './tls-context.js';
import { TunnelAcceptor } from './tunnel/server.js';
import { TUNNEL_ALPN, type TunnelLimits } from './tunnel/protocol.js';
import type { TunnelTargets } from './tunnel/target.js';

/** Where one accepted connection goes after authorization. */
export interface InboundRoute {
  forward: HostPort;
  /** Source address for the forward (transparent mode uses 127.0.0.6). */
  localAddress?: string;
  /** Where the streams of a tunnel arriving on this connection may go (tunnel/target.ts); without it, no tunnels. */
  targets?: TunnelTargets;
}

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
  /** Bounds on unfinished handshakes (handshake-gate.ts). */
  limits: HandshakeLimits;
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

/** ALPN on the inbound port: h2 when the client offers it (a tunnel), else its own first choice (raw mTLS, as before). */
function chooseAlpn({ protocols }: { protocols: string[] }): string | undefined {
  return protocols.includes(TUNNEL_ALPN) ? TUNNEL_ALPN : protocols[0];
}

/** A burst that held at least this many unfinished handshakes (≈ 8 MiB of native buffers) asks for a heap trim... */
export const TRIM_AFTER_PENDING = 64;
/** ...once no more than this many are left. */
export const TRIM_LOW_WATER = 8;

interface ConnState {
  peer: string;
  route: InboundRoute;
  timer: TimerHandle | undefined;
  /** Set once the connection was refused or handed to the forwarder; later events are ignored. */
  settled: boolean;
}

const STATE = Symbol('ztmesh.inbound.state');
type RawSocket = net.Socket & { [STATE]?: ConnState };

/**
 * Handles accepted TCP sockets for one inbound policy. Composable: the explicit listener and transparent
 * mode both call handle(raw, route) with sockets they accepted.
 */
export class InboundHandler {
  /** A never-listening tls.Server used as the handshake engine: sockets are handed to it (injectConnection). */
  private readonly engine: tls.Server;
  private policy: AuthzPolicy;
  private readonly pending: PendingHandshakes<RawSocket>;
  /** Most unfinished handshakes held since the last trim request. */
  private burstPeak = 0;
  private readonly unsubscribe: () => void;
  /** Set once this Node.js was found not to name a TLS socket's TCP socket; said once, then looked up by address. */
  private internalsChanged = false;
  /** This listener's tunnel sessions, when it accepts tunnels. */
  readonly tunnels: TunnelAcceptor | undefined;

  constructor(private readonly deps: InboundDeps, private readonly opts: InboundOptions) {
    this.policy = opts.policy;
    this.pending = new PendingHandshakes(opts.limits);
    // rejectUnauthorized stays false so that every failure reaches us with its reason; nothing is forwarded
    // unless `authorized` is true, a certificate is present and the policy allows its ID.
    this.engine = tls.createServer({
      requestCert: true,
      rejectUnauthorized: false,
      minVersion: 'TLSv1.3',
      handshakeTimeout: opts.handshakeTimeoutMs,
      // ALPNProtocols would refuse a client offering only other protocols (no_application_protocol); raw mTLS
      // clients keep being served whatever they offer.
      ...(deps.tunnels ? { ALPNCallback: chooseAlpn } : {}),
    });
    this.tunnels = deps.tunnels
      ? new TunnelAcceptor(
        {
          contexts: deps.contexts, clock: deps.clock, reporter: deps.reporter, connections: deps.connections, metrics: deps.tunnels.metrics,
          ...(deps.readBuffer ? { readBuffer: deps.readBuffer } : {}), ...(deps.appBuffers ? { appBuffers: deps.appBuffers } : {}),
          ...(deps.sweep ? { sweep: deps.sweep } : {}),
        },
        {
          limits: deps.tunnels.limits, policy: () => this.policy, handshakeTimeoutMs: opts.handshakeTimeoutMs, idleTimeoutMs: opts.idleTimeoutMs,
          maxStreams: opts.maxConnections ?? Number.MAX_SAFE_INTEGER,
        },
      )
      : undefined;
    this.unsubscribe = deps.contexts.subscribe((m) => this.engine.setSecureContext({ ...m.serverOptions }));
    this.engine.on('secureConnection', (t: tls.TLSSocket) => this.onSecure(t));
    this.engine.on('tlsClientError', (err: Error, t: tls.TLSSocket) => this.onTlsError(err, t));
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
    return this.pending.size;
  }

  /** Resolves once no connection is open. */
  whenIdle(): Promise<void> {
    return this.deps.connections.whenIdle();
  }

  /** Takes one accepted TCP socket through handshake, authorization and forwarding. */
  handle(socket: net.Socket, route: InboundRoute): void {
    const raw = socket as RawSocket;
    const peer = peerLabel(raw.remoteAddress, raw.remotePort);
    raw.on('error', () => {}); // surfaced on the TLS socket; this only keeps a raw reset from being unhandled
    if (!this.deps.contexts.usable()) {
      this.deps.reporter.refused(peer, REASONS.noSvid);
      resetLeg(plainLeg(raw));
      return;
    }
    // At a full bound the oldest unfinished handshake makes room, so a flood cannot lock newcomers out.
    const displaced = this.pending.admit(raw, raw.remoteAddress ?? 'unknown');
    if (displaced) this.cut(displaced.key, REASONS.handshakeLimit, `oldest unfinished handshake at the ${displaced.bound} bound of ${displaced.limit}`);
    this.burstPeak = Math.max(this.burstPeak, this.pending.size);
    raw.setNoDelay(true);
    const state: ConnState = { peer, route, timer: undefined, settled: false };
    raw[STATE] = state;
    this.track(raw);
    state.timer = this.deps.clock.setTimeout(() => this.cut(raw, REASONS.handshakeTimeout), this.opts.handshakeTimeoutMs);
    // Half-open only once the peer is authorized: a peer that sends FIN during the handshake must close the
    // TLS socket (node reports nothing otherwise and the socket would wait for the handshake timeout).
    raw.allowHalfOpen = false;
    const permissive = this.opts.permissive;
    if (permissive?.mode() === 'permissive') {
      // The decision is bounded like the handshake it precedes: the gate and the deadline above already hold it.
      detectFirstBytes(raw, Math.min(permissive.detectionTimeoutMs, this.opts.handshakeTimeoutMs), this.deps.clock, (v) => {
        if (state.settled) return;
        if (v === 'tls') return this.inject(raw);
        if (v !== 'closed') return this.plaintext(raw, state, v === 'silent');
        this.finish(raw, state);
        this.deps.reporter.abandoned(state.peer, 'closed before its first byte');
      });
      return;
    }
    this.inject(raw);
  }

  private inject(raw: RawSocket): void {
    try {
      injectConnection(this.engine, raw);
    } catch (e) {
      this.cut(raw, REASONS.nodeInternalsChanged, describe(e).message);
    }
  }

  /**
   * Permissive mode, a client that did not start TLS: forwarded to the app without an identity, counted and logged at
   * debug. Only an open policy admits it: an allow-list (or default deny) names identities, and it has none.
   */
  private plaintext(raw: RawSocket, state: ConnState, silent: boolean): void {
    this.finish(raw, state);
    if (!isOpenPolicy(this.policy)) {
      this.deps.reporter.refused(state.peer, REASONS.spiffeIdDenied, { detail: 'a plaintext client (permissive mode) has no identity, and this inbound allows only listed ones' });
      return resetLeg(plainLeg(raw));
    }
    raw.allowHalfOpen = true;
    this.opts.permissive!.onPlaintext();
    this.deps.reporter.log.debug({ peer: state.peer, silent }, silent ? 'inbound plaintext (the client sent nothing first): forwarded without an identity' : 'inbound plaintext: forwarded without an identity');
    this.forward({ stream: raw, tcp: raw }, state, undefined);
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

  /** Ends the handshake phase of `raw`: later events are ignored and it no longer counts as pending. */
  private finish(raw: RawSocket, state: ConnState): void {
    state.settled = true;
    state.timer?.cancel();
    this.release(raw);
  }

  /** Takes `raw` off the pending handshakes; once a burst of them is over, asks for a heap trim. */
  private release(raw: RawSocket): void {
    this.pending.release(raw);
    if (this.burstPeak >= TRIM_AFTER_PENDING && this.pending.size <= TRIM_LOW_WATER) {
      this.burstPeak = this.pending.size;
      this.deps.heap?.request();
    }
  }

  /** Refuses a connection still in its handshake (timeout, cut at a bound) and resets it. */
  private cut(raw: RawSocket, reason: string, detail?: string): void {
    const state = raw[STATE];
    if (!state || state.settled) return;
    this.finish(raw, state);
    this.deps.reporter.refused(state.peer, reason, { detail });
    resetLeg(plainLeg(raw));
  }

  private track(raw: RawSocket): void {
    this.deps.connections.track(raw);
    // Not settled on close: the TLS socket still reports how the handshake ended (peer_closed, ...).
    raw.once('close', () => this.release(raw));
  }

  /**
   * The TCP socket under a TLS socket of ours. Should Node.js stop naming it, say so once (not as a handshake
   * timeout of every connection) and find it by its addresses among our open connections instead.
   */
  private rawOf(t: tls.TLSSocket): RawSocket | undefined {
    try {
      return rawSocketOf(t);
    } catch (e) {
      if (!this.internalsChanged) {
        this.internalsChanged = true;
        const { code, message } = describe(e);
        this.deps.reporter.log.error({ code, err: message }, 'inbound: finding each TLS socket\'s TCP socket by its addresses instead');
      }
      return this.deps.connections.sockets().find((s) => s.remotePort === t.remotePort && s.localPort === t.localPort && s.remoteAddress === t.remoteAddress);
    }
  }

  private settle(t: tls.TLSSocket): { raw: RawSocket; state: ConnState } | undefined {
    const raw = this.rawOf(t);
    const state = raw?.[STATE];
    if (!raw || !state || state.settled) {
      closeLeg({ stream: t, tcp: raw ?? t });
      return undefined;
    }
    this.finish(raw, state);
    return { raw, state };
  }

  private onTlsError(err: Error, t: tls.TLSSocket): void {
    const s = this.settle(t);
    if (!s) return;
    const reason = tlsErrorReason(err);
    if (reason === REASONS.peerClosed) this.deps.reporter.abandoned(s.state.peer, (err as { code?: string }).code);
    else this.deps.reporter.refused(s.state.peer, reason, { detail: (err as { code?: string }).code });
    resetLeg({ stream: t, tcp: s.raw });
  }

  private onSecure(t: tls.TLSSocket): void {
    const s = this.settle(t);
    if (!s) return;
    const { raw, state } = s;
    const leg: SocketLeg = { stream: t, tcp: raw };
    t.on('error', () => {}); // before splice() takes over, a reset peer must not crash the process
    t.allowHalfOpen = true;
    raw.allowHalfOpen = true;
    const refuse = (reason: string, peerId?: string, detail?: string) => {
      this.deps.reporter.refused(state.peer, reason, { peerId, detail });
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
    if (t.isSessionReused() && Date.parse(cert.validTo) <= this.deps.clock.now()) {
      return refuse(REASONS.certExpired, peerId, 'resumed session');
    }
    // Policy before resources: an identity no stream could ever be admitted for gets no tunnel session either.
    const decision = authorize(peerId, this.policy);
    if (!decision.allow) return refuse(decision.reason, peerId, decision.detail);
    // A tunnel: each of its streams is authorized again against the policy in force when it opens.
    if (t.alpnProtocol === TUNNEL_ALPN && this.tunnels && state.route.targets) {
      t.allowHalfOpen = false;
      raw.allowHalfOpen = false;
      this.tunnels.accept(t, raw, {
        peer: state.peer, peerId, certNotAfterMs: Date.parse(cert.validTo), serial: cert.serialNumber.toLowerCase(), resumed: t.isSessionReused(), targets: state.route.targets,
      });
      return;
    }
    this.forward(leg, state, peerId);
  }

  private forward(leg: SocketLeg, state: ConnState, peerId: string | undefined): void {
    const onLegClose = () => dial.cancel();
    const { clock, readBuffer, appBuffers } = this.deps;
    const dial = dialApp(state.route, { timeoutMs: this.opts.handshakeTimeoutMs, clock, ...(readBuffer ? { readBuffer } : {}), ...(appBuffers ? { buffers: appBuffers } : {}) }, {
      failed: (err) => {
        leg.stream.removeListener('close', onLegClose);
        this.deps.reporter.failed(state.peer, REASONS.forwardUnavailable, { peerId, detail: err.code });
        resetLeg(leg);
      },
      connected: (app, reader) => this.spliceApp(leg, app, reader, state, peerId, onLegClose),
    });
    leg.stream.once('close', onLegClose);
  }

  private spliceApp(leg: SocketLeg, app: net.Socket, reader: SharedBufferReader | undefined, state: ConnState, peerId: string | undefined, onLegClose: () => void): void {
    leg.stream.removeListener('close', onLegClose);
    if (leg.stream.destroyed) {
      app.destroy();
      return;
    }
    const closed = this.deps.reporter.opened();
    if (peerId !== undefined) this.deps.reporter.log.debug({ peer: state.peer, peerId, resumed: (leg.stream as tls.TLSSocket).isSessionReused() }, 'inbound connection forwarded');
    splice(leg, plainLeg(app, reader), {
      idleTimeoutMs: this.opts.idleTimeoutMs, clock: this.deps.clock, ...(this.deps.sweep ? { sweep: this.deps.sweep } : {}),
      onEnd: (end) => {
        closed();
        if (end.error || end.idle) this.deps.reporter.log.debug({ peer: state.peer, peerId, idle: end.idle, err: end.error?.message }, 'inbound connection ended abnormally');
      },
    });
  }
}

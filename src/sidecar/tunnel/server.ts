// The inbound end of tunnels: an authenticated, authorized mTLS connection that chose ALPN h2 becomes an HTTP/2
// session, and each CONNECT stream on it is checked (target, validity, policy) and forwarded to the app like one raw
// mTLS connection.
import http2 from 'node:http2';
import type net from 'node:net';
import type tls from 'node:tls';
import type { Clock, TimerHandle } from '../../common/clock.js';
import type { TrustBundle } from '../../identity/credentials.js';
import { certExpired } from '../../pki/validity.js';
import type { AppForwarder } from '../inbound/app-forward.js';
import type { AuthzDecision } from '../authz.js';
import type { ConnectionSet } from '../connection-set.js';
import type { ConnectionReporter, DataPathMetrics } from '../datapath-metrics.js';
import type { LivenessSweep } from '../liveness-sweep.js';
import { resetLeg, type SocketLeg } from '../pipe.js';
import { REASONS } from '../reasons.js';
import type { TlsContextHolder } from '../tls-context.js';
import { abortOnPeerEnd, H2_CODES, MAX_REFUSED_STREAMS, REASON_HEADER, sessionOptions, StreamWindowGovernor, type TunnelLimits } from './protocol.js';
import { fitReceiveWindow } from './receive-window.js';
import { SessionGuard, TUNNEL_END_REASONS } from './session-guard.js';
import type { TunnelTargets } from '../inbound/route.js';
import { HANDOFF_HEADER } from './handoff.js';
import { HandoffServer, type HandoffConnection } from './handoff-server.js';

/** Who is at the other end of one tunnel connection, as its handshake proved. */
export interface TunnelPeer {
  /** "ip:port" of the connection, for log lines. */
  peer: string;
  /** The SPIFFE ID of the peer's leaf SVID (checked against the leaf rules at the handshake). */
  peerId: string;
  /** The peer certificate's notAfter: past it, the connection takes no new streams. */
  certNotAfterMs: number;
  /** The peer certificate's serial (hex), for the log line of the connection. */
  serial: string;
  /** Whether the tunnel connection resumed a TLS session, as its streams' log lines say. */
  resumed: boolean;
  /** Where this connection's streams may go (tunnel/target.ts). */
  targets: TunnelTargets;
}

export interface TunnelAcceptorDeps {
  contexts: TlsContextHolder;
  clock: Clock;
  reporter: ConnectionReporter;
  /** The listener's open connections: each stream's app socket is tracked here. */
  connections: ConnectionSet;
  metrics: DataPathMetrics;
  /** The inbound's forward to the app, which each authorized stream goes through. */
  forwarder: AppForwarder;
  /** Notices sessions HTTP/2 ended while nothing reads them. */
  sweep?: LivenessSweep;
  /** The data path's shared read buffer, which a handoff's connection reads into. */
  readBuffer?: Uint8Array;
}

export interface TunnelAcceptorOptions {
  limits: TunnelLimits;
  /**
   * The listener's authorization step, for every stream: the peer, its ID and the workload port the stream's target
   * forwards to. It reports a refusal itself (naming the deciding policy).
   */
  authorize: (peer: string, peerId: string, port: number) => AuthzDecision;
  /** Streams carried at once across the listener's tunnels, like its maxConnections for raw connections. */
  maxStreams: number;
}

interface Conn extends TunnelPeer {
  session: http2.ServerHttp2Session;
  guard: SessionGuard;
  bundle: TrustBundle;
  /** The peer's address, which the per-source bound counts. */
  source: string;
  /** Streams open, refused ones included (the window governor and maxStreams count them). */
  streams: number;
  /** Streams forwarded (or being dialled) to the app: only these hold the connection open past its idle time. */
  forwarded: number;
  refused: number;
  idle: TimerHandle | undefined;
  /** At maxAgeMs or the peer certificate's expiry, the connection takes no new streams (GOAWAY). */
  age: TimerHandle | undefined;
  /** Shrinks the stream window this end advertises as streams open, within the connection's buffer budget. */
  window: StreamWindowGovernor;
  /** Its handoff key, and the streams a handoff may join. */
  handoff: HandoffConnection;
}

const STATUS = { badRequest: 400, forbidden: 403, unavailable: 503 } as const;

/**
 * One inbound listener's tunnel sessions: created from authenticated, authorized TLS sockets, drained on shutdown and
 * trust change. Invariants: a peer holds at most maxConnectionsPerPeerId connections and a source address
 * maxConnectionsPerSource; every session is watched by a SessionGuard, so one that HTTP/2 ended is destroyed and its
 * streams stop counting; a connection without forwarded streams closes after its idle time, whatever it is refused.
 */
export class TunnelAcceptor {
  private readonly conns = new Set<Conn>();
  private readonly perPeerId = new Map<string, number>();
  private readonly perSource = new Map<string, number>();
  private activeStreams = 0;
  private streamsTotal = 0;
  private draining = false;
  private readonly unsubscribe: () => void;

  private readonly options: ReturnType<typeof sessionOptions>;
  /** The listener's handoff keys and the streams they name (handoff-server.ts). */
  private readonly handoffs: HandoffServer;

  constructor(private readonly deps: TunnelAcceptorDeps, private readonly opts: TunnelAcceptorOptions) {
    this.options = sessionOptions(opts.limits);
    this.handoffs = new HandoffServer({ clock: deps.clock, reporter: deps.reporter, metrics: deps.metrics, ...(deps.readBuffer ? { readBuffer: deps.readBuffer } : {}) });
    // A new bundle may drop a root the peers' chains lead to: their connections take no new streams and reconnect.
    this.unsubscribe = deps.contexts.subscribe((m) => {
      for (const c of this.conns) if (c.bundle !== m.bundle) c.guard.close(TUNNEL_END_REASONS.drain);
    });
  }

  /** Tunnel connections open now, and streams carried (active and since start). */
  get counts(): { connections: number; streamsActive: number; streamsTotal: number } {
    return { connections: this.conns.size, streamsActive: this.activeStreams, streamsTotal: this.streamsTotal };
  }

  /**
   * Takes an authenticated TLS socket whose peer chose h2 and whose identity the listener's policy admits; its streams
   * are authorized one by one. A peer or source address at its bound is refused (`tunnel_connection_limit`).
   */
  accept(t: tls.TLSSocket, raw: net.Socket, peer: TunnelPeer): void {
    const material = this.deps.contexts.current();
    if (!material || this.draining) {
      resetLeg({ stream: t, tcp: raw });
      return;
    }
    const source = raw.remoteAddress ?? 'unknown';
    const { maxConnectionsPerPeerId, maxConnectionsPerSource } = this.opts.limits;
    const full = (this.perPeerId.get(peer.peerId) ?? 0) >= maxConnectionsPerPeerId
      ? `${maxConnectionsPerPeerId} tunnel connections from ${peer.peerId}`
      : (this.perSource.get(source) ?? 0) >= maxConnectionsPerSource ? `${maxConnectionsPerSource} tunnel connections from ${source}` : undefined;
    if (full) {
      this.deps.reporter.refused(peer.peer, REASONS.tunnelConnectionLimit, { peerId: peer.peerId, detail: full });
      resetLeg({ stream: t, tcp: raw });
      return;
    }
    const session = http2.performServerHandshake(t, this.options);
    abortOnPeerEnd(t, session);
    const { reporter, clock } = this.deps;
    const guard = new SessionGuard(session, { stream: t, tcp: raw }, {
      clock, limits: this.opts.limits, metrics: this.deps.metrics, direction: 'inbound', ...(this.deps.sweep ? { sweep: this.deps.sweep } : {}),
      warn: (code, fields, msg) => reporter.warn(code, fields, msg), debug: (fields, msg) => reporter.log.debug(fields, msg),
    }, { peer: peer.peer, peerId: peer.peerId });
    const conn: Conn = {
      ...peer, session, guard, bundle: material.bundle, source, streams: 0, forwarded: 0, refused: 0, idle: undefined, age: undefined,
      window: new StreamWindowGovernor(session, this.opts.limits), handoff: this.handoffs.connection(peer.peerId),
    };
    this.conns.add(conn);
    bump(this.perPeerId, conn.peerId, 1);
    bump(this.perSource, source, 1);
    this.deps.metrics.tunnelConnections.inc({ direction: 'inbound' });
    session.on('stream', (stream, headers) => this.onStream(conn, stream, headers));
    session.on('error', (err) => reporter.log.debug({ peer: conn.peer, peerId: conn.peerId, err: err.message }, 'tunnel connection failed'));
    session.once('close', () => {
      conn.idle?.cancel();
      conn.age?.cancel();
      conn.handoff.forget();
      this.conns.delete(conn);
      bump(this.perPeerId, conn.peerId, -1);
      bump(this.perSource, source, -1);
      this.deps.metrics.tunnelConnections.dec({ direction: 'inbound' });
    });
    // No more in flight from the peer than our socket's receive buffer holds (receive-window.ts).
    const connectionWindow = fitReceiveWindow(raw, this.opts.limits.connectionWindow, (code, fields, msg) => reporter.warn(code, { peer: conn.peer, peerId: conn.peerId, ...fields }, msg));
    session.setLocalWindowSize(connectionWindow);
    reporter.log.debug({ peer: conn.peer, peerId: conn.peerId, serial: conn.serial, connectionWindow }, 'tunnel connection accepted');
    // As the pool does on its side: no new streams after maxAgeMs, nor past the peer certificate's expiry.
    conn.age = clock.setTimeout(() => guard.close(TUNNEL_END_REASONS.maxAge), Math.min(this.opts.limits.maxAgeMs, conn.certNotAfterMs - clock.now()));
    this.armIdle(conn);
  }

  /**
   * An authenticated connection whose peer the policy admits and that chose the handoff ALPN: it takes the place of
   * one of this listener's tunnel streams, if its join request names one of its peer's (handoff-server.ts).
   */
  join(leg: SocketLeg, who: { peer: string; peerId: string }, timeoutMs: number): void {
    this.handoffs.join(leg, who, timeoutMs);
  }

  /** Sends GOAWAY on every tunnel connection: no new streams, the open ones finish (drain). */
  drain(): void {
    this.draining = true;
    for (const c of this.conns) c.guard.close(TUNNEL_END_REASONS.drain);
  }

  /** Ends every tunnel connection now (the data path closed). */
  dispose(): void {
    this.unsubscribe();
    for (const c of [...this.conns]) {
      c.idle?.cancel();
      c.age?.cancel();
      c.guard.end(TUNNEL_END_REASONS.shutdown);
    }
  }

  /** A connection without forwarded streams is closed after a while; the pool at the other end closes it sooner. */
  private armIdle(conn: Conn): void {
    conn.idle?.cancel();
    conn.idle = this.deps.clock.setTimeout(() => conn.guard.close(TUNNEL_END_REASONS.idle), this.opts.limits.idleMs * 5);
  }

  private onStream(conn: Conn, stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders): void {
    stream.on('error', () => {}); // a reset peer; splice() reports what matters once it takes over
    conn.guard.watchStream(stream);
    conn.streams++;
    this.activeStreams++;
    this.streamsTotal++;
    conn.window.update(conn.streams);
    stream.once('close', () => {
      this.activeStreams--;
      conn.streams--;
      conn.window.update(conn.streams);
    });
    const refuse = (status: number, reason: string, detail?: string) => this.refuse(conn, stream, status, reason, detail);
    if (headers[':method'] !== 'CONNECT') return refuse(STATUS.badRequest, REASONS.tunnelMalformed, `${String(headers[':method'])} is not CONNECT`);
    if (!this.deps.contexts.usable()) return refuse(STATUS.unavailable, REASONS.noSvid);
    if (certExpired(conn.certNotAfterMs, this.deps.clock.now())) return refuse(STATUS.forbidden, REASONS.certExpired, 'the tunnel peer\'s certificate expired after its handshake');
    if (this.activeStreams > this.opts.maxStreams) return refuse(STATUS.unavailable, REASONS.maxConnections, `${this.opts.maxStreams} streams`);
    const target = conn.targets.resolve(headers[':authority']);
    if (!target.ok) return refuse(STATUS.forbidden, REASONS.targetNotAllowed, target.detail);
    const decision = this.opts.authorize(conn.peer, conn.peerId, target.route.forward.port);
    if (!decision.allow) return this.refuse(conn, stream, STATUS.forbidden, decision.reason, undefined, true);

    // Only a forwarded stream holds the connection past its idle time: refused ones come and go without touching it.
    conn.forwarded++;
    conn.idle?.cancel();
    stream.once('close', () => {
      if (--conn.forwarded === 0 && !conn.guard.isClosing) this.armIdle(conn);
    });
    this.deps.forwarder.forward({ stream, tcp: null }, target.route, { peer: conn.peer, peerId: conn.peerId, resumed: conn.resumed, target: headers[':authority'] }, {
      accepted: (app) => {
        stream.respond({ ':status': 200, [HANDOFF_HEADER]: conn.handoff.key }, { waitForTrailers: true });
        this.deps.connections.track(app);
        this.deps.metrics.tunnelStreams.inc({ direction: 'inbound', result: 'accepted' });
      },
      unavailable: () => {
        this.deps.metrics.tunnelStreams.inc({ direction: 'inbound', result: 'error' });
        answer(stream, STATUS.unavailable, REASONS.forwardUnavailable, H2_CODES.connectError);
      },
      spliced: (handle) => conn.handoff.spliced(stream, handle),
    });
  }

  /**
   * One refused stream: the usual log line and metrics (unless `reported`: authorization reports its own), a 4xx/5xx
   * naming the reason, then RST_STREAM.
   */
  private refuse(conn: Conn, stream: http2.ServerHttp2Stream, status: number, reason: string, detail?: string, reported = false): void {
    if (!reported) this.deps.reporter.refused(conn.peer, reason, { peerId: conn.peerId, detail });
    this.deps.metrics.tunnelStreams.inc({ direction: 'inbound', result: 'refused' });
    answer(stream, status, reason, H2_CODES.refusedStream);
    // A peer that keeps opening streams we refuse is not a peer we keep a session for.
    if (++conn.refused >= MAX_REFUSED_STREAMS && !conn.guard.isClosing) {
      this.deps.reporter.warn(TUNNEL_END_REASONS.refusedStreams, { peer: conn.peer, peerId: conn.peerId, refused: conn.refused }, 'tunnel connection closed: too many refused streams');
      conn.session.goaway(H2_CODES.enhanceYourCalm);
      conn.guard.close(TUNNEL_END_REASONS.refusedStreams);
    }
  }
}

/** Adds `by` to the count of `key`, forgetting keys that reach 0. */
function bump(counts: Map<string, number>, key: string, by: number): void {
  const n = (counts.get(key) ?? 0) + by;
  if (n > 0) counts.set(key, n);
  else counts.delete(key);
}

/** Answers a stream with a status and a reason header, then resets it with `code` (no END_STREAM before it). */
function answer(stream: http2.ServerHttp2Stream, status: number, reason: string, code: number): void {
  if (stream.closed || stream.destroyed) return;
  if (!stream.headersSent) stream.respond({ ':status': status, [REASON_HEADER]: reason }, { waitForTrailers: true });
  stream.close(code);
}

// The outbound end of tunnels: a small pool of long-lived mTLS connections (ALPN h2) per upstream, each app connection
// one HTTP/2 CONNECT stream on them. Whether a connection takes a stream or raw mTLS is the transport chooser's
// (outbound/transport-chooser.ts): this pool only manages HTTP/2 connections and says when it has no stream to give.
//
// Invariants:
// - One pool per upstream address and expected server ID (upstreamKey); its connections are all to that upstream.
// - A connection carries at most min(maxStreamsPerConnection, the peer's SETTINGS_MAX_CONCURRENT_STREAMS) streams;
//   a stream's slot is reserved before it is opened and freed exactly once, when it closes or fails to open.
// - At most one connection per pool is being opened at a time: every stream that finds no room waits for it.
// - At most maxConnectionsPerUpstream connections per pool take new streams; past that the pool has none to give.
// - A connection made with an older SVID or bundle, past maxAgeMs or its peer's notAfter, told GOAWAY, or idle for
//   idleMs takes no new stream; it closes once its streams end (SessionGuard bounds how long that may take).
// - A stream the upstream never saw (GOAWAY, a connection that just died) is retried once on another connection.
import http2 from 'node:http2';
import type tls from 'node:tls';
import { formatHostPort } from '../../common/address.js';
import type { Clock, TimerHandle } from '../../common/clock.js';
import type { Logger } from '../../common/logger.js';
import type { TunnelPoolStatus } from '../../admin/status-types.js';
import { expectationText } from '../authz.js';
import type { DataPathMetrics, WarnBudget } from '../datapath-metrics.js';
import type { LivenessSweep } from '../liveness-sweep.js';
import { DialError, upstreamKey, type DialedSocket, type DialedUpstream, type NoStream, type StreamPool, type UpstreamTarget } from '../outbound/transport.js';
import type { UpstreamDialer } from '../outbound/upstream-dialer.js';
import { closeLeg } from '../pipe.js';
import { REASONS, serverRefusalReason } from '../reasons.js';
import type { TlsContextHolder } from '../tls-context.js';
import { abortOnPeerEnd, H2_CODES, REASON_HEADER, sessionOptions, StreamWindowGovernor, TUNNEL_ALPN, type TunnelLimits } from './protocol.js';
import { fitReceiveWindow } from './receive-window.js';
import { SessionGuard, TUNNEL_END_REASONS, type TunnelEndReason } from './session-guard.js';
import { HANDOFF_HEADER, parseHandoffKey } from './handoff.js';


interface Pool {
  upstream: string;
  expect: string | null;
  conns: Conn[];
  /** The connection being opened, which every stream that finds no room waits for. */
  opening: Promise<Opened> | undefined;
  streamsTotal: number;
  /** Streams moved to an mTLS connection of their own (handoff-client.ts). */
  streamsHandedOff: number;
}

interface Conn {
  session: http2.ClientHttp2Session;
  /** Ends the session when HTTP/2 says it has ended, pings the peer, bounds a closing connection (session-guard.ts). */
  guard: SessionGuard;
  generation: number;
  peerId: string;
  /** Whether its TLS handshake resumed a session (its streams say so in their log lines). */
  resumed: boolean;
  /** Streams reserved or open; at the limit, the pool opens another connection. */
  streams: number;
  /** No new streams (rotation, GOAWAY, age, a failed ping); it closes once its streams end. */
  draining: boolean;
  /** The upstream's SETTINGS arrived: its inbound took the connection (it refuses an identity before sending any). */
  admitted: boolean;
  expiresAtMs: number;
  idle: TimerHandle | undefined;
  /** Shrinks the stream window this end advertises as streams open, within the connection's buffer budget. */
  window: StreamWindowGovernor;
}

type Opened = { kind: 'tunnel'; conn: Conn } | { kind: 'raw'; dialed: DialedSocket };

export interface TunnelPoolDeps {
  contexts: TlsContextHolder;
  dialer: UpstreamDialer;
  clock: Clock;
  log: Logger;
  metrics: DataPathMetrics;
  limits: TunnelLimits;
  /** Notices upstreams that left, and sessions HTTP/2 ended, while nothing reads them. */
  sweep?: LivenessSweep;
  /** The data path's throttled warn lines. */
  budget: WarnBudget;
}

/** No room on any connection, and no more connections to open (the chooser dials raw mTLS instead). */
const FULL: NoStream = { noStream: 'full' };

/**
 * The sidecar's tunnel pools, one per upstream address and expected server ID, on UpstreamDialer's mTLS connections
 * (docs/design.md "Tunnels"). Streams share connections up to maxStreamsPerConnection each.
 */
export class TunnelPool implements StreamPool {
  private readonly pools = new Map<string, Pool>();
  private readonly unsubscribe: () => void;
  private closed = false;

  constructor(private readonly deps: TunnelPoolDeps) {
    // Connections made with the previous SVID or bundle take no new streams; theirs finish.
    this.unsubscribe = deps.contexts.subscribe((m) => {
      for (const pool of this.pools.values()) for (const c of pool.conns) if (c.generation !== m.generation) this.drainConn(c, TUNNEL_END_REASONS.drain);
    });
  }

  /** The pools as /status shows them; `mode` says how the transport chooser reaches each upstream now. */
  statuses(mode: (key: string) => TunnelPoolStatus['mode']): TunnelPoolStatus[] {
    return [...this.pools].map(([key, p]) => ({
      upstream: p.upstream, expect: p.expect, mode: mode(key),
      connections: p.conns.length, streamsActive: p.conns.reduce((n, c) => n + c.streams, 0), streamsTotal: p.streamsTotal, streamsHandedOff: p.streamsHandedOff,
    }));
  }

  /** One app connection: a stream on a pooled connection, or why the pool has none (NoStream). */
  async open(target: UpstreamTarget, handshakeTimeoutMs: number, signal?: AbortSignal): Promise<DialedUpstream | NoStream> {
    const material = this.deps.contexts.usable();
    if (!material || this.closed) throw new DialError(REASONS.noSvid, 'no valid SVID: refusing to dial');
    const pool = this.poolFor(target);
    const startedMs = this.deps.clock.now();
    for (let attempt = 0; ; attempt++) {
      const got = await this.acquire(pool, target, handshakeTimeoutMs, material.generation);
      if (!('session' in got)) return got;
      if (signal?.aborted) {
        this.release(got);
        throw new DialError(REASONS.peerClosed, 'the app closed its connection while the tunnel opened');
      }
      const left = Math.max(1, handshakeTimeoutMs - (this.deps.clock.now() - startedMs));
      try {
        return await this.openStream(pool, got, left, signal, startedMs);
      } catch (err) {
        // A stream the peer never saw (GOAWAY, a connection that just died) is safe to try once more.
        if (!(err instanceof RetryableStream) || attempt > 0) throw err instanceof RetryableStream ? err.cause : err;
      }
    }
  }

  /** Closes every pooled connection now (the data path's close). */
  close(): void {
    this.closed = true;
    this.unsubscribe();
    for (const pool of this.pools.values()) for (const c of [...pool.conns]) c.guard.end(TUNNEL_END_REASONS.shutdown);
  }

  private poolFor(target: UpstreamTarget): Pool {
    const key = upstreamKey(target);
    let pool = this.pools.get(key);
    if (!pool) {
      pool = { upstream: formatHostPort(target.upstream.host, target.upstream.port), expect: expectationText(target.expect) ?? null, conns: [], opening: undefined, streamsTotal: 0, streamsHandedOff: 0 };
      this.pools.set(key, pool);
    }
    return pool;
  }

  /** A connection with room (its slot reserved), after opening one if needed; or why there is none. */
  private async acquire(pool: Pool, target: UpstreamTarget, timeoutMs: number, generation: number): Promise<Conn | NoStream> {
    for (;;) {
      const now = this.deps.clock.now();
      for (const c of pool.conns) if (!c.draining && c.expiresAtMs <= now) this.drainConn(c, TUNNEL_END_REASONS.maxAge);
      const conn = pool.conns.find((c) => !c.draining && !c.session.closed && c.generation === generation && c.streams < this.roomOf(c));
      if (conn) {
        conn.streams++;
        conn.idle?.cancel();
        conn.window.update(conn.streams);
        return conn;
      }
      if (!pool.opening && pool.conns.filter((c) => !c.draining).length >= this.deps.limits.maxConnectionsPerUpstream) return FULL;
      const mine = !pool.opening;
      const opening = pool.opening ??= this.openConn(pool, target, timeoutMs).finally(() => { pool.opening = undefined; });
      const opened = await opening;
      // The connection that found out goes back to the stream that opened it, to be used as it is.
      if (opened.kind === 'raw') return { noStream: 'no_tunnel', dialed: mine ? opened.dialed : undefined };
    }
  }

  private roomOf(c: Conn): number {
    return Math.min(this.deps.limits.maxStreamsPerConnection, c.session.remoteSettings.maxConcurrentStreams ?? Infinity);
  }

  /** Dials a new connection offering h2; one whose upstream chooses otherwise is not a tunnel. */
  private async openConn(pool: Pool, target: UpstreamTarget, timeoutMs: number): Promise<Opened> {
    const dialed = await this.deps.dialer.dial(target, timeoutMs, undefined, [TUNNEL_ALPN]);
    if (dialed.alpnProtocol !== TUNNEL_ALPN || this.closed) return { kind: 'raw', dialed };
    const { limits, clock, metrics } = this.deps;
    const t = dialed.leg.stream as tls.TLSSocket;
    // A tunnel connection is never half-open: the peer's FIN (its process died) ends the session and its streams now.
    t.allowHalfOpen = false;
    dialed.leg.tcp.allowHalfOpen = false;
    const session = http2.connect(`https://${pool.upstream}`, { ...sessionOptions(limits), createConnection: () => t });
    abortOnPeerEnd(t, session);
    const material = this.deps.contexts.current();
    const createdMs = clock.now();
    const { log, budget, sweep } = this.deps;
    const guard = new SessionGuard(session, dialed.leg, {
      clock, limits, metrics, direction: 'outbound', ...(sweep ? { sweep } : {}),
      warn: (code, fields, msg) => budget.warn(log, code, fields, msg), debug: (fields, msg) => log.debug(fields, msg),
    }, { upstream: pool.upstream, peerId: dialed.peerId });
    const conn: Conn = {
      session, guard, generation: material?.generation ?? -1, peerId: dialed.peerId, resumed: dialed.resumed, streams: 0, draining: false, admitted: false,
      expiresAtMs: Math.min(createdMs + limits.maxAgeMs, dialed.peerNotAfterMs ?? Infinity), idle: undefined,
      window: new StreamWindowGovernor(session, limits),
    };
    pool.conns.push(conn);
    metrics.tunnelConnections.inc({ direction: 'outbound' });
    session.on('error', (err) => this.deps.log.debug({ upstream: pool.upstream, err: err.message }, 'tunnel connection failed'));
    // No more in flight from the upstream than our socket's receive buffer holds (receive-window.ts).
    const connectionWindow = fitReceiveWindow(dialed.leg.tcp, limits.connectionWindow, (code, fields, msg) => budget.warn(log, code, { upstream: pool.upstream, ...fields }, msg));
    session.once('connect', () => session.setLocalWindowSize(connectionWindow));
    session.once('remoteSettings', () => { conn.admitted = true; });
    session.on('goaway', () => { conn.draining = true; });
    session.once('close', () => {
      conn.draining = true;
      conn.idle?.cancel();
      pool.conns.splice(pool.conns.indexOf(conn), 1);
      metrics.tunnelConnections.dec({ direction: 'outbound' });
      closeLeg(dialed.leg);
    });
    this.deps.log.debug({ upstream: pool.upstream, peerId: conn.peerId, resumed: dialed.resumed, connectionWindow }, 'tunnel connection opened');
    this.armIdle(conn);
    return { kind: 'tunnel', conn };
  }

  /** Opens one CONNECT stream on `conn` (slot reserved) and waits for the upstream's answer. */
  private openStream(pool: Pool, conn: Conn, timeoutMs: number, signal: AbortSignal | undefined, startedMs: number): Promise<DialedUpstream> {
    const { clock, metrics } = this.deps;
    pool.streamsTotal++;
    let req: http2.ClientHttp2Stream;
    try {
      req = conn.session.request({ ':method': 'CONNECT', ':authority': pool.upstream }, { endStream: false, waitForTrailers: true });
    } catch (err) {
      // The session closed between the pick and the request (node throws ERR_HTTP2_INVALID_SESSION).
      this.release(conn);
      return Promise.reject(new RetryableStream(new DialError(REASONS.peerClosed, `tunnel to ${pool.upstream} closed: ${(err as Error).message}`, conn.peerId)));
    }
    conn.guard.watchStream(req);
    req.once('close', () => this.release(conn));
    return new Promise<DialedUpstream>((resolve, reject) => {
      let settled = false;
      const finish = () => {
        settled = true;
        timer.cancel();
        signal?.removeEventListener('abort', onAbort);
      };
      const fail = (err: Error, result: 'refused' | 'error') => {
        if (settled) return;
        finish();
        metrics.tunnelStreams.inc({ direction: 'outbound', result });
        req.on('error', () => {});
        if (!req.closed && !req.destroyed) req.close(H2_CODES.cancel);
        reject(err);
      };
      const timer = clock.setTimeout(() => fail(new DialError(REASONS.handshakeTimeout, `no answer from ${pool.upstream} to a tunnel stream within ${timeoutMs} ms`, conn.peerId), 'error'), timeoutMs);
      const onAbort = () => fail(new DialError(REASONS.peerClosed, 'the app closed its connection while the tunnel stream opened'), 'error');
      signal?.addEventListener('abort', onAbort);
      req.once('response', (headers) => {
        if (settled) return;
        const status = Number(headers[':status']);
        if (status !== 200) {
          const reason = headers[REASON_HEADER];
          // The upstream took us but its app is down: an error of the other leg, not a refusal of our identity.
          if (reason === REASONS.forwardUnavailable) {
            return fail(new DialError(REASONS.forwardUnavailable, `${pool.upstream} accepted the tunnel stream but its app refused the forward`, conn.peerId), 'error');
          }
          return fail(new DialError(REASONS.serverRefused, `${pool.upstream} refused the tunnel stream: ${typeof reason === 'string' ? reason : `status ${status}`}`, conn.peerId), 'refused');
        }
        finish();
        metrics.tunnelStreams.inc({ direction: 'outbound', result: 'accepted' });
        const key = parseHandoffKey(headers[HANDOFF_HEADER]);
        const handoff = key && req.id !== undefined
          ? { key, streamId: req.id, connectionStreams: () => conn.streams, moved: () => { pool.streamsHandedOff++; } }
          : undefined;
        resolve({ leg: { stream: req, tcp: null }, peerId: conn.peerId, resumed: conn.resumed, handshakeMs: clock.now() - startedMs, accepted: true, ...(handoff ? { handoff } : {}) });
      });
      req.once('error', (err: Error & { code?: string }) => {
        // Dropped before the upstream said a word: its inbound refused our identity right after the TLS handshake, as
        // it refuses a raw mTLS connection (in TLS 1.3 our side of the handshake finishes first).
        if (!conn.admitted) return fail(new DialError(serverRefusalReason(err), `${pool.upstream} refused the tunnel connection right after its handshake (${err.code ?? err.message})`, conn.peerId), 'refused');
        // Refused before it was seen (GOAWAY, REFUSED_STREAM without an answer) or lost with its connection: retry once.
        const unseen = err.code === 'ERR_HTTP2_GOAWAY_SESSION' || req.rstCode === H2_CODES.refusedStream || conn.session.destroyed;
        const why = new DialError(REASONS.peerClosed, `tunnel stream to ${pool.upstream} failed before an answer: ${err.code ?? err.message}`, conn.peerId);
        fail(unseen ? new RetryableStream(why) : why, 'error');
      });
      // Every stream closes; only one that closes unanswered is a failure (no Error is built for the others).
      req.once('close', () => {
        if (!settled && !conn.admitted) fail(new DialError(REASONS.serverRefused, `${pool.upstream} refused the tunnel connection right after its handshake`, conn.peerId), 'refused');
        if (!settled) fail(new RetryableStream(new DialError(REASONS.peerClosed, `tunnel stream to ${pool.upstream} closed before an answer`, conn.peerId)), 'error');
      });
    });
  }

  /** A stream ended (or was never opened): its slot is free; a connection left without streams starts its idle time. */
  private release(conn: Conn): void {
    if (--conn.streams === 0 && !conn.draining) this.armIdle(conn);
    conn.window.update(conn.streams);
  }

  private armIdle(conn: Conn): void {
    conn.idle?.cancel();
    conn.idle = this.deps.clock.setTimeout(() => { if (conn.streams === 0) this.drainConn(conn, TUNNEL_END_REASONS.idle); }, this.deps.limits.idleMs);
  }

  /** Takes `conn` out of rotation: no new streams (GOAWAY), and node closes it once its streams end. */
  private drainConn(conn: Conn, why: TunnelEndReason): void {
    if (conn.draining) return;
    conn.draining = true;
    conn.idle?.cancel();
    this.deps.log.debug({ peerId: conn.peerId, why, streams: conn.streams }, 'tunnel connection draining');
    conn.guard.close(why);
  }
}

/** A stream that failed before the upstream saw it: the dial tries once more on another connection. */
class RetryableStream extends Error {
  constructor(override readonly cause: DialError) {
    super(cause.message);
  }
}

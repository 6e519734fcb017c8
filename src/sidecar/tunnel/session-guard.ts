// Ends a tunnel connection when HTTP/2 says it has ended, at either end: nghttp2 ending the session by itself (on a
// protocol error it sends GOAWAY and stops reading, which node 20 reports in no event), a frame or session error, a
// GOAWAY with nothing left to finish, a peer that left or stopped answering PINGs, and the absolute bound on a closing
// connection. Invariants: a guarded session is destroyed (its streams with it, so their app sockets are released) as
// soon as one of these is seen; its end is counted once, with the first reason that applied; no timer outlives it.
import type http2 from 'node:http2';
import type { Clock, TimerHandle } from '../../common/clock.js';
import { describe } from '../../common/errors.js';
import { sessionWantsIO } from '../../common/node-internals.js';
import type { DataPathMetrics, Direction } from '../datapath-metrics.js';
import type { LivenessSweep } from '../liveness-sweep.js';
import { resetLeg, type SocketLeg } from '../pipe.js';
import { H2_CODES, type TunnelLimits } from './protocol.js';

/** Why a tunnel connection ended: the `reason` of ztmesh_tunnel_connections_closed_total (docs/design.md "Tunnels"). */
export const TUNNEL_END_REASONS = {
  /** No streams for the idle time (the pool's idleMs, the inbound's idleMs × 5). */
  idle: 'idle',
  /** Our GOAWAY (SVID or bundle change, policy change, shutdown): closed once its streams ended. */
  drain: 'drain',
  /** Our GOAWAY at maxAgeMs or at the peer certificate's expiry. */
  maxAge: 'max_age',
  /** The inbound's GOAWAY (ENHANCE_YOUR_CALM) after MAX_REFUSED_STREAMS refused streams. */
  refusedStreams: 'refused_streams',
  /** The peer's GOAWAY. */
  peerGoaway: 'peer_goaway',
  /** The peer's FIN or RST on the TCP connection. */
  peerClosed: 'peer_closed',
  /** A frame or session error: nghttp2 ended the session (GOAWAY, then no more reading), or node reported one. */
  protocolError: 'protocol_error',
  /** A PING went unanswered for pingTimeoutMs: the peer, or the session, stopped reading. */
  pingTimeout: 'ping_timeout',
  /** Streams were still open closeGraceMs after the connection began closing: reset (the absolute bound). */
  closeTimeout: 'close_timeout',
  /** The data path closed. */
  shutdown: 'shutdown',
} as const;

export type TunnelEndReason = (typeof TUNNEL_END_REASONS)[keyof typeof TUNNEL_END_REASONS];

/**
 * A session that HTTP/2 has ended while it still holds streams closed on both sides (their last bytes waiting for an
 * app to read them) gets this long before it is destroyed; one with a stream still open is destroyed at once.
 */
export const ENDED_GRACE_MS = 5_000;

/** A destroyed session whose connection has not closed by then is reset (see SessionGuard.destroy). */
export const FORCE_CLOSE_MS = 1_000;

/** Ends that are a fault (a warn line); the others are logged at debug. */
const FAULTS: ReadonlySet<TunnelEndReason> = new Set(['protocol_error', 'ping_timeout', 'close_timeout']);

export interface SessionGuardDeps {
  clock: Clock;
  limits: Pick<TunnelLimits, 'pingIntervalMs' | 'pingTimeoutMs' | 'closeGraceMs'>;
  metrics: DataPathMetrics;
  direction: Direction;
  /** Notices a peer that left, or a session nghttp2 ended, while nothing reads the socket. */
  sweep?: LivenessSweep;
  /** A throttled warn line (the data path's WarnBudget) for a connection cut by a fault, and the debug log. */
  warn(code: string, fields: Record<string, unknown>, msg: string): void;
  debug(fields: Record<string, unknown>, msg: string): void;
  /** Runs `fn` in this turn of the event loop once its I/O has been read (setImmediate; tests choose the moment). */
  afterIo?(fn: () => void): void;
}

/** Watches one tunnel session until it closes; the owner calls close() and end() instead of the session's own. */
export class SessionGuard {
  private reason: TunnelEndReason | undefined;
  private closingSince: number | undefined;
  private closeTimer: TimerHandle | undefined;
  private pingTimer: TimerHandle | undefined;
  private endedTimer: TimerHandle | undefined;
  private forceTimer: TimerHandle | undefined;
  private readonly unwatch: (() => void) | undefined;

  /**
   * `leg` is the TLS socket the session runs on and the TCP socket under it; `who` names the peer in log lines
   * ({ peer | upstream, peerId }); `onClose` runs once the session has closed, with the reason it ended.
   */
  constructor(
    private readonly session: http2.Http2Session,
    private readonly leg: SocketLeg,
    private readonly deps: SessionGuardDeps,
    private readonly who: Record<string, unknown>,
    onClose?: (reason: TunnelEndReason) => void,
  ) {
    // Node answers a frame it failed to send with a graceful close, which never completes while streams are open.
    session.on('frameError', (type: number, code: number) => this.end(TUNNEL_END_REASONS.protocolError, `could not send a frame (type ${type}, code ${code})`));
    // Node destroys the session itself on an error; a reset or EOF of the socket is the peer leaving.
    session.on('error', (err: Error & { code?: string }) => {
      this.note(err.code === 'ECONNRESET' || err.code === 'EPIPE' ? TUNNEL_END_REASONS.peerClosed : TUNNEL_END_REASONS.protocolError, err.code ?? err.message);
    });
    // Node destroys the session on a GOAWAY with an error code and closes it gracefully on NO_ERROR.
    session.on('goaway', (code: number) => {
      this.note(TUNNEL_END_REASONS.peerGoaway, code === H2_CODES.noError ? undefined : `code ${code}`);
      this.closing();
    });
    this.unwatch = deps.sweep?.watch({
      socket: leg.tcp,
      alive: () => {
        try {
          return sessionWantsIO(session);
        } catch (e) {
          // A Node.js without the means to ask: the PINGs and the close grace still bound the session.
          deps.warn('node_internals_changed', { code: describe(e).code, err: describe(e).message }, 'tunnel sessions ended by HTTP/2 are noticed by their pings only');
          return true;
        }
      },
      onDeparture: (d) => (d === 'ended' ? this.ended() : this.end(TUNNEL_END_REASONS.peerClosed, d === 'fin' ? 'FIN' : 'reset')),
    });
    session.once('close', () => {
      this.closeTimer?.cancel();
      this.pingTimer?.cancel();
      this.endedTimer?.cancel();
      this.forceTimer?.cancel();
      this.unwatch?.();
      const reason = this.reason ?? TUNNEL_END_REASONS.peerClosed;
      deps.metrics.tunnelConnectionsClosed.inc({ direction: deps.direction, reason });
      onClose?.(reason);
    });
    this.schedulePing();
  }

  /** Streams report the frames node failed to send for them too; node then closes the session gracefully, forever. */
  watchStream(stream: http2.Http2Stream): void {
    stream.on('frameError', (type: number, code: number) => this.end(TUNNEL_END_REASONS.protocolError, `could not send a frame (type ${type}, code ${code}) on stream ${stream.id}`));
  }

  /** Whether the connection began closing (it takes no new streams). */
  get isClosing(): boolean {
    return this.closingSince !== undefined || this.session.closed || this.session.destroyed;
  }

  /** Stops taking streams (GOAWAY) for `reason`; the open ones finish, within closeGraceMs. */
  close(reason: TunnelEndReason): void {
    if (this.session.destroyed) return;
    this.note(reason);
    this.closing();
    this.session.close();
  }

  /**
   * Ends the session now: its streams are reset and so are their app connections. (Destroyed without an error, node
   * ends each stream's readable side cleanly, and the app would get a FIN for a connection that broke.)
   */
  end(reason: TunnelEndReason, detail?: string): void {
    if (this.session.destroyed) return;
    this.reason = reason;
    this.log(reason, detail);
    const err = Object.assign(new Error(`tunnel connection ended: ${reason}${detail ? ` (${detail})` : ''}`), { code: 'ECONNRESET' });
    this.destroy(err, reason === TUNNEL_END_REASONS.protocolError ? H2_CODES.protocolError : H2_CODES.cancel);
  }

  /**
   * Destroys the session. Node's own close then waits for the TLS socket to flush, which never happens when the peer
   * reset it or stopped reading (and the session's 'close' waits for that socket's): a connection still open
   * FORCE_CLOSE_MS later is reset. Not sooner: node destroys that socket itself a tick after a flush, and a reset of
   * the TCP socket in the same tick as the TLS socket's destroy crashes node 20 (pipe.ts resetLeg).
   */
  private destroy(err: Error, code: number): void {
    this.session.destroy(err, code);
    this.forceTimer ??= this.deps.clock.setTimeout(() => {
      if (!this.leg.stream.destroyed) resetLeg(this.leg);
    }, FORCE_CLOSE_MS);
  }

  private note(reason: TunnelEndReason, detail?: string): void {
    if (this.reason) return;
    this.reason = reason;
    this.log(reason, detail);
  }

  private log(reason: TunnelEndReason, detail?: string): void {
    const fields = { ...this.who, direction: this.deps.direction, reason, ...(detail ? { detail } : {}) };
    if (FAULTS.has(reason)) this.deps.warn(reason, fields, `tunnel connection ended: ${reason}`);
    else this.deps.debug(fields, 'tunnel connection ending');
  }

  /** The absolute bound: from the first GOAWAY either way, closeGraceMs for the streams to finish. */
  private closing(): void {
    if (this.closingSince !== undefined || this.session.destroyed) return;
    this.closingSince = this.deps.clock.now();
    this.closeTimer = this.deps.clock.setTimeout(() => this.end(TUNNEL_END_REASONS.closeTimeout, `streams still open ${this.deps.limits.closeGraceMs} ms after the connection began closing`), this.deps.limits.closeGraceMs);
  }

  /**
   * nghttp2 wants neither to read nor to write. With a GOAWAY exchanged, what is left may be streams closed on both
   * sides whose last bytes an app has yet to read: they get ENDED_GRACE_MS. Otherwise nghttp2 ended the session on a
   * protocol error, and every stream on it is dead.
   */
  private ended(): void {
    if (this.session.destroyed) return;
    if (this.closingSince === undefined) return this.end(TUNNEL_END_REASONS.protocolError, 'nghttp2 ended the session (a frame or connection error)');
    this.endedTimer ??= this.deps.clock.setTimeout(() => this.end(this.reason ?? TUNNEL_END_REASONS.protocolError, 'streams left after HTTP/2 ended the session'), ENDED_GRACE_MS);
  }

  /**
   * Keepalive: a PING every pingIntervalMs; one unanswered for pingTimeoutMs, once what arrived by then has been read,
   * ends the connection and its streams.
   */
  private schedulePing(): void {
    this.pingTimer = this.deps.clock.setTimeout(() => {
      if (this.session.destroyed) return;
      let answered = false;
      const deadline = this.deps.clock.setTimeout(() => {
        if (answered || this.session.destroyed) return;
        // Timers run before I/O in a turn of the event loop: after a stall of our own (a long task, a descheduled
        // process) the answer may be waiting unread. Our lateness is not the peer's silence: read, then decide.
        (this.deps.afterIo ?? setImmediate)(() => {
          if (answered || this.session.destroyed) return;
          this.reason = TUNNEL_END_REASONS.pingTimeout;
          this.deps.warn(TUNNEL_END_REASONS.pingTimeout, { ...this.who, direction: this.deps.direction, reason: TUNNEL_END_REASONS.pingTimeout, timeoutMs: this.deps.limits.pingTimeoutMs }, 'tunnel peer did not answer a ping: closing the connection');
          this.destroy(Object.assign(new Error('tunnel peer did not answer a ping'), { code: 'ETIMEDOUT' }), H2_CODES.cancel);
        });
      }, this.deps.limits.pingTimeoutMs);
      this.pingTimer = deadline;
      let sent = false;
      try {
        sent = this.session.ping((err) => {
          answered = true;
          deadline.cancel();
          if (!err) this.schedulePing();
        });
      } catch {
        // closed in the meantime: nothing left to keep alive
      }
      if (!sent) deadline.cancel();
    }, this.deps.limits.pingIntervalMs);
  }
}

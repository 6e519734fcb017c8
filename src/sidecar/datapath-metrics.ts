// Prometheus metrics, per-listener counters and the throttled warn lines of the data path: the one place refusals and
// failures are reported. Counters move once per connection, never per chunk; every refusal is counted, but at most
// 20 lines per code per 10 s are written (common/log-throttle.ts).
import { Counter, Gauge, type Registry } from 'prom-client';
import { isoTime, systemClock, type Clock } from '../common/clock.js';
import { KeyedLogThrottle } from '../common/log-throttle.js';
import type { Logger } from '../common/logger.js';
import { REASONS } from './reasons.js';

export type Direction = 'inbound' | 'outbound';

/** The metric families of the data path (docs/design.md "Metrics"), shared by every listener of one sidecar. */
export interface DataPathMetrics {
  connectionsTotal: Counter<'direction' | 'result'>;
  connectionsActive: Gauge<'direction'>;
  handshakeFailures: Counter<'direction' | 'reason'>;
  /** Open tunnel connections: the outbound's pooled ones, the inbound's accepted ones. */
  tunnelConnections: Gauge<'direction'>;
  /** Tunnel streams by result (accepted, refused, error): one per app connection carried by a tunnel. */
  tunnelStreams: Counter<'direction' | 'result'>;
  /** Transparent outbound connections forwarded as plain TCP, by why (cidr, port: configured; not_meshed: membership). */
  outboundPassthrough: Counter<'reason'>;
  /** Transparent inbound connections forwarded without TLS (permissive inbound mode). */
  inboundPlaintext: Counter;
  /** Tunnel connections that ended, by why (tunnel/session-guard.ts TUNNEL_END_REASONS). */
  tunnelConnectionsClosed: Counter<'direction' | 'reason'>;
  /** Tunnel streams moved to an mTLS connection of their own (tunnel/handoff.ts), by why and how it went. */
  tunnelHandoffs: Counter<'direction' | 'reason' | 'result'>;
  /** Inbound authorization decisions (authz.ts) by result: allow, deny, revoked (an established connection or stream closed by a change). */
  authzDecisions: Counter<'result' | 'policy'>;
  /** What dry-run policies would have decided, never enforced. */
  authzDryRun: Counter<'policy' | 'would'>;
}

/** Registers the data-path metrics on `registry`; the data path (datapath.ts) does this once per sidecar. */
export function createDataPathMetrics(registry: Registry): DataPathMetrics {
  return {
    connectionsTotal: new Counter({
      name: 'ztmesh_connections_total', help: 'Data-path connections by direction and result (accepted, refused, error).',
      labelNames: ['direction', 'result'], registers: [registry],
    }),
    connectionsActive: new Gauge({
      name: 'ztmesh_connections_active', help: 'Data-path connections currently open.', labelNames: ['direction'], registers: [registry],
    }),
    handshakeFailures: new Counter({
      name: 'ztmesh_handshake_failures_total', help: 'Connections refused during or right after the TLS handshake, by reason code.',
      labelNames: ['direction', 'reason'], registers: [registry],
    }),
    tunnelConnections: new Gauge({
      name: 'ztmesh_tunnel_connections', help: 'Open tunnel connections (pooled HTTP/2 over mTLS) by direction.', labelNames: ['direction'], registers: [registry],
    }),
    tunnelStreams: new Counter({
      name: 'ztmesh_tunnel_streams_total', help: 'Tunnel streams (one per app connection) by direction and result (accepted, refused, error).',
      labelNames: ['direction', 'result'], registers: [registry],
    }),
    outboundPassthrough: new Counter({
      name: 'ztmesh_outbound_passthrough_total', help: 'Transparent outbound connections forwarded as plain TCP, leaving the mesh, by reason (cidr, port, not_meshed).',
      labelNames: ['reason'], registers: [registry],
    }),
    inboundPlaintext: new Counter({
      name: 'ztmesh_inbound_plaintext_total', help: 'Transparent inbound connections forwarded without TLS and without an identity (permissive inbound mode).', registers: [registry],
    }),
    tunnelConnectionsClosed: new Counter({
      name: 'ztmesh_tunnel_connections_closed_total', help: 'Tunnel connections that ended, by direction and reason (idle, drain, protocol_error, ...).',
      labelNames: ['direction', 'reason'], registers: [registry],
    }),
    tunnelHandoffs: new Counter({
      name: 'ztmesh_tunnel_handoffs_total', help: 'Tunnel streams moved to an mTLS connection of their own, by direction, reason (bulk, lone) and result (moved, refused, failed).',
      labelNames: ['direction', 'reason', 'result'], registers: [registry],
    }),
    authzDecisions: new Counter({
      name: 'ztmesh_authz_decisions_total', help: 'Inbound authorization decisions by result (allow, deny, revoked) and deciding policy (namespace/name, local, mesh-default).',
      labelNames: ['result', 'policy'], registers: [registry],
    }),
    authzDryRun: new Counter({
      name: 'ztmesh_authz_dry_run_total', help: 'What dry-run policies would have decided (never enforced), by policy and would (allow, deny).',
      labelNames: ['policy', 'would'], registers: [registry],
    }),
  };
}

/**
 * The data path's warn lines about refused, failed and cut connections: each `code` gets 20 lines per 10 s, and the
 * next line written after a pause says how many were `suppressed`. One per data path, shared by its listeners.
 */
export class WarnBudget {
  private readonly throttle: KeyedLogThrottle;

  constructor(clock: Clock) {
    this.throttle = new KeyedLogThrottle(clock);
  }

  warn(log: Logger, code: string, fields: Record<string, unknown>, msg: string): void {
    const suppressed = this.throttle.admit(code);
    if (suppressed !== undefined) log.warn({ ...fields, ...(suppressed ? { suppressed } : {}) }, msg);
  }
}

/** The latest refusal one listener saw, for /status and `ztmesh status`. */
export interface LastRefusal {
  reason: string;
  /** Who connected to this listener: the client of an inbound one, the app of an outbound one. */
  peer: string;
  /** Outbound: where the connection was going (the upstream), when it got that far. */
  upstream?: string;
  /** The other sidecar's SPIFFE ID, when known. */
  peerId?: string;
  at: string;
}

/** The counters one listener shows in /status. */
export interface ListenerCounters {
  connectionsActive: number;
  connectionsTotal: number;
  denied: number;
  lastRefusal: LastRefusal | null;
}

/** A forwarded connection whose peer may still refuse it (an upstream refuses our certificate after TLS 1.3's handshake). */
export interface PendingConnection {
  /** The peer took it: counted as accepted. */
  accept(): void;
  /** The peer refused it after all: counted and logged as a refusal instead. */
  refuse(peer: string, reason: string, extra?: RefusalExtra): void;
  /** Whether accept() or refuse() was called. */
  readonly settled: boolean;
  /** The connection closed (call once, after accept or refuse). */
  close(): void;
}

export interface RefusalExtra {
  peerId?: string | undefined;
  detail?: string | undefined;
  /** An authorization refusal: the deciding policy, the workload (our own ID) and its port. */
  policy?: string | undefined;
  workload?: string | undefined;
  port?: number | undefined;
  /** For outbound connections: the upstream that refused, or that we refused. */
  upstream?: string | undefined;
  handshake?: boolean;
}

/** What a connection handler reports into: metrics, the listener's counters and its logger. */
export class ConnectionReporter {
  readonly counters: ListenerCounters = { connectionsActive: 0, connectionsTotal: 0, denied: 0, lastRefusal: null };

  constructor(
    readonly direction: Direction,
    private readonly metrics: DataPathMetrics,
    readonly log: Logger,
    private readonly clock: Clock = systemClock,
    private readonly budget: WarnBudget = new WarnBudget(clock),
  ) {}

  /** A warn line about a connection, within the data path's budget for `code`. */
  warn(code: string, fields: Record<string, unknown>, msg: string): void {
    this.budget.warn(this.log, code, fields, msg);
  }

  /** A connection was refused: one warn line naming the peer and the code (throttled), one metric, one denied count. */
  refused(peer: string, reason: string, extra: RefusalExtra = {}): void {
    this.counters.connectionsTotal++;
    this.counters.denied++;
    this.counters.lastRefusal = {
      reason, peer, ...(extra.upstream ? { upstream: extra.upstream } : {}), at: isoTime(this.clock.now()), ...(extra.peerId ? { peerId: extra.peerId } : {}),
    };
    this.metrics.connectionsTotal.inc({ direction: this.direction, result: 'refused' });
    if (extra.handshake !== false) this.metrics.handshakeFailures.inc({ direction: this.direction, reason });
    this.warn(reason, {
      direction: this.direction, peer, ...(extra.upstream ? { upstream: extra.upstream } : {}), peerId: extra.peerId, reason, detail: extra.detail,
      ...(extra.policy !== undefined ? { policy: extra.policy, workload: extra.workload, port: extra.port } : {}),
    }, 'connection refused');
  }

  /** An established connection (or tunnel stream) closed because a policy change no longer allows its peer. */
  revoked(peer: string, extra: Required<Pick<RefusalExtra, 'policy'>> & RefusalExtra): void {
    this.warn(REASONS.policyRevoked, {
      direction: this.direction, peer, peerId: extra.peerId, reason: REASONS.policyRevoked, detail: extra.detail, policy: extra.policy, workload: extra.workload, port: extra.port,
    }, 'connection closed');
  }

  /** The identity checks passed but the other leg could not be set up (the app port is closed, the upstream is down). */
  failed(peer: string, reason: string, extra: { peerId?: string | undefined; detail?: string | undefined } = {}): void {
    this.counters.connectionsTotal++;
    this.metrics.connectionsTotal.inc({ direction: this.direction, result: 'error' });
    this.warn(reason, { direction: this.direction, peer, peerId: extra.peerId, reason, detail: extra.detail }, 'connection failed');
  }

  /** The peer went away before the handshake finished (a scanner, a TCP probe): counted as an error, logged at debug. */
  abandoned(peer: string, detail?: string): void {
    this.counters.connectionsTotal++;
    this.metrics.connectionsTotal.inc({ direction: this.direction, result: 'error' });
    this.log.debug({ direction: this.direction, peer, detail }, 'peer closed during the handshake');
  }

  /** A connection was forwarded; returns the function to call once when it closes. */
  opened(): () => void {
    const c = this.pending();
    c.accept();
    return () => c.close();
  }

  /** A connection being forwarded whose result is not known yet: active now, accepted or refused later. */
  pending(): PendingConnection {
    this.counters.connectionsActive++;
    this.metrics.connectionsActive.inc({ direction: this.direction });
    let settled = false;
    let closed = false;
    return {
      accept: () => {
        if (settled) return;
        settled = true;
        this.counters.connectionsTotal++;
        this.metrics.connectionsTotal.inc({ direction: this.direction, result: 'accepted' });
      },
      refuse: (peer, reason, extra) => {
        if (settled) return;
        settled = true;
        this.refused(peer, reason, extra);
      },
      get settled() { return settled; },
      close: () => {
        if (closed) return;
        closed = true;
        this.counters.connectionsActive--;
        this.metrics.connectionsActive.dec({ direction: this.direction });
      },
    };
  }
}

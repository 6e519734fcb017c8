// Prometheus metrics and per-listener counters of the data path.
// Counters move once per connection, never per chunk.
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Logger } from '../common/logger.js';

export type Direction = 'inbound' | 'outbound';
/** accepted: forwarded after every check; refused: an identity or policy check failed; error: the other leg failed. */
export type ConnectionResult = 'accepted' | 'refused' | 'error';

/** The three metric families of DESIGN.md, shared by every listener on one registry. */
export interface DataPathMetrics {
  connectionsTotal: Counter<'direction' | 'result'>;
  connectionsActive: Gauge<'direction'>;
  handshakeFailures: Counter<'direction' | 'reason'>;
}

const cache = new WeakMap<Registry, DataPathMetrics>();

/** Registers the data-path metrics on `registry` once; later calls return the same families. */
export function dataPathMetrics(registry: Registry): DataPathMetrics {
  const hit = cache.get(registry);
  if (hit) return hit;
  const m: DataPathMetrics = {
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
  };
  cache.set(registry, m);
  return m;
}

/** The counters one listener shows in /status. */
export interface ListenerCounters {
  connectionsActive: number;
  connectionsTotal: number;
  denied: number;
}

/** What a connection handler reports into: metrics, the listener's counters and its logger. */
export class ConnectionReporter {
  readonly counters: ListenerCounters = { connectionsActive: 0, connectionsTotal: 0, denied: 0 };

  constructor(
    readonly direction: Direction,
    private readonly metrics: DataPathMetrics,
    readonly log: Logger,
  ) {}

  /** A connection was refused: one warn line naming the peer and the code, one metric, one denied count. */
  refused(peer: string, reason: string, extra: { peerId?: string | undefined; detail?: string | undefined; handshake?: boolean } = {}): void {
    this.counters.connectionsTotal++;
    this.counters.denied++;
    this.metrics.connectionsTotal.inc({ direction: this.direction, result: 'refused' });
    if (extra.handshake !== false) this.metrics.handshakeFailures.inc({ direction: this.direction, reason });
    this.log.warn({ direction: this.direction, peer, peerId: extra.peerId, reason, detail: extra.detail }, 'connection refused');
  }

  /** The identity checks passed but the other leg could not be set up (the app port is closed, the upstream is down). */
  failed(peer: string, reason: string, extra: { peerId?: string | undefined; detail?: string | undefined } = {}): void {
    this.counters.connectionsTotal++;
    this.metrics.connectionsTotal.inc({ direction: this.direction, result: 'error' });
    this.log.warn({ direction: this.direction, peer, peerId: extra.peerId, reason, detail: extra.detail }, 'connection failed');
  }

  /** The peer went away before the handshake finished (a scanner, a TCP probe): counted as an error, logged at debug. */
  abandoned(peer: string, detail?: string): void {
    this.counters.connectionsTotal++;
    this.metrics.connectionsTotal.inc({ direction: this.direction, result: 'error' });
    this.log.debug({ direction: this.direction, peer, detail }, 'peer closed during the handshake');
  }

  /** A connection was forwarded; returns the function to call once when it closes. */
  opened(): () => void {
    this.counters.connectionsTotal++;
    this.counters.connectionsActive++;
    this.metrics.connectionsTotal.inc({ direction: this.direction, result: 'accepted' });
    this.metrics.connectionsActive.inc({ direction: this.direction });
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.counters.connectionsActive--;
      this.metrics.connectionsActive.dec({ direction: this.direction });
    };
  }
}

/** "ip:port" of a socket's peer, for logs. */
export function peerLabel(address: string | undefined, port: number | undefined): string {
  if (!address) return 'unknown';
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

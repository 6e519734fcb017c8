// The choice between the tunnel and raw mTLS for one app connection, in one place: a stream on the tunnel pool where
// the upstream speaks the tunnel (ALPN h2) and the pool has room, a raw mTLS connection of its own otherwise. An
// upstream that does not choose the tunnel is remembered as such for noTunnelCacheMs.
import { formatHostPort } from '../../common/address.js';
import type { Clock } from '../../common/clock.js';
import type { Logger } from '../../common/logger.js';
import type { UpstreamDialer } from './upstream-dialer.js';
import { upstreamKey, type DialedUpstream, type StreamPool, type UpstreamTarget, type UpstreamTransport } from './transport.js';

/** How an upstream is reached now, as /status shows it. */
export type TransportMode = 'tunnel' | 'raw';

export interface TransportChooserDeps {
  pool: StreamPool;
  /** Raw mTLS, one connection per app connection. */
  dialer: Pick<UpstreamDialer, 'dial'>;
  clock: Clock;
  log: Logger;
  /** How long an upstream that did not choose the tunnel is dialled raw before the tunnel is offered again. */
  noTunnelCacheMs: number;
}

/** The outbound's transport with `tunnel: auto`: the tunnel pool, raw mTLS where it cannot serve. */
export class TransportChooser implements UpstreamTransport {
  /** Upstreams (by upstreamKey) that did not choose the tunnel, and until when they are dialled raw. */
  private readonly rawUntil = new Map<string, number>();

  constructor(private readonly deps: TransportChooserDeps) {}

  async dial(target: UpstreamTarget, handshakeTimeoutMs: number, signal?: AbortSignal): Promise<DialedUpstream> {
    const { dialer, pool, clock } = this.deps;
    const key = upstreamKey(target);
    if (this.modeOf(key) === 'raw') return dialer.dial(target, handshakeTimeoutMs, signal);
    const got = await pool.open(target, handshakeTimeoutMs, signal);
    if (!('noStream' in got)) return got;
    if (got.noStream === 'full') return dialer.dial(target, handshakeTimeoutMs, signal); // a raw connection of its own
    this.rawUntil.set(key, clock.now() + this.deps.noTunnelCacheMs);
    if (!got.dialed) return dialer.dial(target, handshakeTimeoutMs, signal);
    const { dialed } = got;
    this.deps.log.info({ upstream: formatHostPort(target.upstream.host, target.upstream.port), peerId: dialed.peerId, alpn: dialed.alpnProtocol }, 'upstream offers no tunnel (ALPN h2): raw mTLS to it');
    return dialed;
  }

  /** How the upstream of `key` is reached now. */
  modeOf(key: string): TransportMode {
    const until = this.rawUntil.get(key);
    if (until === undefined) return 'tunnel';
    if (until > this.deps.clock.now()) return 'raw';
    this.rawUntil.delete(key);
    return 'tunnel';
  }
}

// The tunnel between sidecars as both ends speak it (docs/design.md "Tunnels"): ALPN h2, one HTTP/2 CONNECT stream per
// app connection, a reason header on refusals, RST codes, and the bounds and windows of every tunnel connection.

/** HTTP/2 error codes (RFC 9113 §7), as RST_STREAM and GOAWAY carry them. */
export const H2_CODES = {
  noError: 0x0,
  protocolError: 0x1,
  refusedStream: 0x7,
  cancel: 0x8,
  /** RFC 9113 §8.5: the TCP connection behind a CONNECT stream was reset or failed. */
  connectError: 0xa,
  enhanceYourCalm: 0xb,
} as const;

/** The ALPN protocol a tunnel is negotiated with; a peer that offers no h2 gets raw mTLS on the same port. */
export const TUNNEL_ALPN = 'h2';
/** The response header a refusing inbound names its reason code in (403/503 with this header, then RST_STREAM). */
export const REASON_HEADER = 'ztmesh-reason';

/**
 * The trailer a tunnel stream ends with when the connection goes on in a socket leg of its own (tunnel/handoff.ts):
 * not a FIN, the bytes that follow come on the handoff's connection.
 */
export const MOVED_TRAILER = 'ztmesh-moved';

/** What every tunnel connection is held to, both ends (the outbound pool and the inbound acceptor). */
export interface TunnelLimits {
  /** Streams one tunnel connection carries at once (SETTINGS_MAX_CONCURRENT_STREAMS, and the pool's packing). */
  maxStreamsPerConnection: number;
  /** Tunnel connections the pool holds to one upstream; past it, an app connection gets its own raw mTLS connection. */
  maxConnectionsPerUpstream: number;
  /** A pooled connection without streams for this long is closed (the inbound closes its side after idleMs × 5). */
  idleMs: number;
  /** A pooled connection takes no new streams after this long (its streams finish), nor past the peer certificate's expiry. */
  maxAgeMs: number;
  /** A PING every this often on a pooled connection... */
  pingIntervalMs: number;
  /** ...and one unanswered this long closes it: a dead peer is noticed without TCP telling. */
  pingTimeoutMs: number;
  /** Per-stream receive window (SETTINGS_INITIAL_WINDOW_SIZE): what one stream may have in flight, and buffered here. */
  streamWindow: number;
  /**
   * Connection receive window, so that streams do not wait on each other's window updates; each end advertises less
   * where its socket's receive buffer would not hold it (receive-window.ts).
   */
  connectionWindow: number;
  /**
   * What one tunnel connection may buffer for streams whose app is not reading. Node's http2 hands connection window
   * back as data reaches JavaScript, so only stream windows bound that buffer (a full window per stalled stream):
   * as streams open, the advertised stream window shrinks to fit this budget (StreamWindowGovernor).
   */
  connectionBuffer: number;
  /** How long the answer "this upstream offers no h2" is remembered; raw mTLS is used meanwhile. */
  noTunnelCacheMs: number;
  /**
   * The absolute bound: a connection that began closing (a GOAWAY either way, at maxAgeMs at the latest) and still
   * carries streams this long after is ended, its streams reset. So no tunnel connection lives past maxAgeMs + this.
   */
  closeGraceMs: number;
  /** Tunnel connections an inbound listener holds from one peer SPIFFE ID (replicas share one)... */
  maxConnectionsPerPeerId: number;
  /** ...and from one source address; past either, a new one is refused at its handshake (`tunnel_connection_limit`). */
  maxConnectionsPerSource: number;
}

/**
 * A 1 MiB stream window moves one bulk stream at 0.6–0.8× raw mTLS here, where 256 KiB gave 0.5× and 2–4 MiB no more
 * (docs/bench.md, "Tunnel windows"). A connection buffers at most about 32 MiB for stalled streams: past 32 open
 * streams, their window shrinks (down to 64 KiB). 128 streams per connection let 200 concurrent app connections ride
 * on two; 128 connections per upstream carry 16,384 streams, more than a listener's default maxConnections. A pool
 * needs one or two connections per upstream, so an inbound holds 256 per source address and 512 per peer SPIFFE ID
 * (the replicas of one workload share it) before it refuses more.
 */
export const DEFAULT_TUNNEL_LIMITS: Readonly<TunnelLimits> = Object.freeze({
  maxStreamsPerConnection: 128,
  maxConnectionsPerUpstream: 128,
  idleMs: 60_000,
  maxAgeMs: 3_600_000,
  pingIntervalMs: 10_000,
  pingTimeoutMs: 5_000,
  streamWindow: 1024 * 1024,
  connectionWindow: 8 * 1024 * 1024,
  connectionBuffer: 32 * 1024 * 1024,
  noTunnelCacheMs: 300_000,
  closeGraceMs: 3_600_000,
  maxConnectionsPerPeerId: 512,
  maxConnectionsPerSource: 256,
});

/** Streams an inbound refuses on one tunnel connection before it ends the connection (GOAWAY ENHANCE_YOUR_CALM). */
export const MAX_REFUSED_STREAMS = 100;

/** nghttp2's own state and the frames queued to send, in MB, per tunnel connection; past it, new streams are refused. */
export const MAX_SESSION_MEMORY_MB = 16;

/** The smallest stream window the governor advertises, however many streams are open. */
export const MIN_STREAM_WINDOW = 64 * 1024;

/** The largest power of two ≤ n (n ≥ 1). */
const pow2Floor = (n: number): number => 2 ** Math.floor(Math.log2(Math.max(1, n)));

/**
 * The stream window one end of a tunnel connection should advertise with `streams` open: the configured window while
 * streams × window fits the connection's buffer budget, else the largest power of two that fits (at least
 * MIN_STREAM_WINDOW). With `growing`, it must fit twice over, so that a count moving around a step does not flap. Pure.
 */
export function streamWindowFor(streams: number, limits: Pick<TunnelLimits, 'streamWindow' | 'connectionBuffer'>, growing = false): number {
  const share = limits.connectionBuffer / Math.max(1, streams) / (growing ? 2 : 1);
  return Math.max(MIN_STREAM_WINDOW, Math.min(limits.streamWindow, pow2Floor(share)));
}

/**
 * Keeps one tunnel connection's advertised stream window (SETTINGS_INITIAL_WINDOW_SIZE, which applies to its open
 * streams too) within the connection's buffer budget as streams open and close: shrinks at once, grows back only once
 * the streams fit the larger window twice over.
 */
export class StreamWindowGovernor {
  private window: number;

  constructor(
    private readonly session: { settings(s: { initialWindowSize: number }): void; destroyed: boolean },
    private readonly limits: Pick<TunnelLimits, 'streamWindow' | 'connectionBuffer'>,
  ) {
    this.window = limits.streamWindow;
  }

  /** The window advertised now. */
  get current(): number {
    return this.window;
  }

  /** Called whenever the connection's count of open streams changes. */
  update(streams: number): void {
    const shrink = streamWindowFor(streams, this.limits);
    const grow = streamWindowFor(streams, this.limits, true);
    const next = shrink < this.window ? shrink : grow > this.window ? grow : this.window;
    if (next === this.window || this.session.destroyed) return;
    try {
      this.session.settings({ initialWindowSize: next });
      this.window = next;
    } catch {
      // Too many SETTINGS unacknowledged (a peer that does not answer them): the next change tries again.
    }
  }
}

/** Header bounds: a CONNECT request has two pseudo-headers and needs little else. */
export const MAX_HEADER_PAIRS = 16;
export const MAX_HEADER_LIST_BYTES = 8 * 1024;

/** The HTTP/2 settings and session bounds one end of a tunnel applies (node's http2 options, both ends alike). */
export function sessionOptions(limits: TunnelLimits) {
  return {
    settings: {
      enablePush: false,
      maxConcurrentStreams: limits.maxStreamsPerConnection,
      initialWindowSize: limits.streamWindow,
      maxHeaderListSize: MAX_HEADER_LIST_BYTES,
    },
    maxHeaderListPairs: MAX_HEADER_PAIRS,
    maxSessionMemory: MAX_SESSION_MEMORY_MB,
    maxSettings: 16,
    maxOutstandingPings: 4,
    // Rapid reset (CVE-2023-44487): nghttp2 (1.57 and later, in node 20) ends a session past 1,000 RST_STREAMs in a
    // burst or 33 a second; the inbound also ends one after MAX_REFUSED_STREAMS refusals (tunnel/server.ts).
    maxSessionInvalidFrames: 100,
    maxSessionRejectedStreams: 100,
    peerMaxConcurrentStreams: limits.maxStreamsPerConnection,
  };
}

/** Splits an :authority into host and port; undefined when it is not host:port with a port in 1–65535. */
export function parseAuthority(authority: string | undefined): { host: string; port: number } | undefined {
  if (!authority) return undefined;
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(authority);
  if (!m) return undefined;
  const port = Number(m[3]);
  if (port < 1 || port > 65535) return undefined;
  return { host: (m[1] ?? m[2])!, port };
}

/**
 * A tunnel connection whose peer went away without closing it (its FIN or RST came while streams were open): the
 * session ends with an error, so that each of its streams resets its app connection rather than ending it cleanly.
 */
export function abortOnPeerEnd(socket: { once(event: 'end', fn: () => void): unknown }, session: { destroyed: boolean; destroy(err?: Error): void }): void {
  socket.once('end', () => {
    if (!session.destroyed) session.destroy(Object.assign(new Error('the tunnel peer closed the connection'), { code: 'ECONNRESET' }));
  });
}

// The CA's TLS listener: accepts TCP itself and takes each connection through the front door (front-door/: caps in
// total and per source, the handshake deadline, TLS), then hands established HTTP/2 connections to grpc-js
// (common/grpc-hand-off.ts) with what TLS learnt of the client certificate; every refusal is counted and logged
// (rate-limited per code).
import net from 'node:net';
import { X509Certificate } from 'node:crypto';
import type tls from 'node:tls';
import { grpcPeerName } from '../../common/address.js';
import { listenOn } from '../../common/listen.js';
import { KeyedLogThrottle } from '../../common/log-throttle.js';
import type { GrpcHandOff } from '../../common/grpc-hand-off.js';
import { resetSocket } from '../../common/socket-reset.js';
import { FrontDoor, type DoorConnection, type FrontDoorLimits, type FrontDoorOptions } from '../../front-door/front-door.js';
import type { ConnectionLimits } from './connection-cap.js';
import type { CaMetrics } from '../metrics.js';

/** Refusals of the CA's own, beside the front door's (front-door/reasons.ts). */
export const CA_DOOR_REASONS = {
  /** The client did not choose HTTP/2 (ALPN h2): it cannot be speaking gRPC. */
  notHttp2: 'not_http2',
  /** The kernel accepted a connection node could not take (EMFILE, ENFILE): dropped, the port keeps serving. */
  acceptFailed: 'accept_failed',
} as const;

/** What TLS learnt about a client certificate that it could not verify. */
export interface PeerTlsInfo {
  /** OpenSSL's verification error, e.g. CERT_HAS_EXPIRED, UNABLE_TO_VERIFY_LEAF_SIGNATURE. */
  certError: string;
}

/** The CA port's limits: its connection caps plus the time a connection has to finish its TLS handshake. */
export interface CaFrontDoorLimits extends ConnectionLimits, Pick<FrontDoorLimits, 'handshakeTimeoutMs'> {}

/**
 * The front door's limits for the CA port, which serves what it accepts: every connection, handshaking or
 * established, counts against the caps until it closes, and unfinished handshakes give way at the total. Pure.
 */
export function caDoorLimits(limits: CaFrontDoorLimits): FrontDoorLimits {
  const { max, maxPerSource, handshakeTimeoutMs } = limits;
  return { handshakeTimeoutMs, maxPending: max, maxPendingPerSource: maxPerSource, connections: { max, maxPerSource } };
}

/** The CA's listener: where it listens, its TLS material and grpc-js hand-off, on the front door's clock, log and heap. */
export interface CaFrontDoorOptions extends Pick<FrontDoorOptions<undefined>, 'clock' | 'log' | 'heap'> {
  host: string;
  port: number;
  /** Current key, certificate chain and client roots; replaced with setContext(). */
  context: tls.SecureContextOptions;
  /** Gives each connection to grpc-js once TLS is up, with what TLS learnt of its client certificate. */
  handOff: GrpcHandOff<PeerTls>;
  limits: CaFrontDoorLimits;
  metrics: Pick<CaMetrics, 'connectionsRefused' | 'connections'>;
}

/** What TLS learnt of a connection's client certificate, handed to grpc-js with it (and its accepted TCP socket). */
export interface PeerTls {
  raw: net.Socket;
  unverified?: PeerTlsInfo;
  /** The verified client certificate, parsed at most once per connection. */
  verified?: { raw: Buffer; cert?: X509Certificate };
}

/** A TCP listener on the front door (client certificate requested, not required) in front of grpc-js. */
export class TlsFrontDoor {
  private readonly listener: net.Server;
  private readonly door: FrontDoor<undefined>;
  /** One line budget per refusal code, so a flood of one kind cannot hide another. */
  private readonly throttles: KeyedLogThrottle;

  private constructor(private readonly opts: CaFrontDoorOptions) {
    this.throttles = new KeyedLogThrottle(opts.clock);
    this.door = new FrontDoor<undefined>({
      tls: { ...opts.context, requestCert: true, ALPNProtocols: ['h2'] },
      limits: caDoorLimits(opts.limits),
      clock: opts.clock, log: opts.log, ...(opts.heap ? { heap: opts.heap } : {}),
      report: {
        refused: (peer, code, detail) => this.report(peer, code, detail === undefined ? {} : { detail }),
        // A peer that hangs up during TLS (a TCP health probe, a port scan) was not refused: keep it out of warn logs.
        abandoned: (peer, detail) => opts.log.debug({ peer, code: 'peer_closed', detail }, 'connection closed by peer'),
      },
      established: (socket, conn) => this.established(socket, conn),
      counted: (c) => {
        opts.metrics.connections.set({ state: 'handshaking' }, c.handshaking);
        opts.metrics.connections.set({ state: 'established' }, c.established);
      },
    });
    this.listener = net.createServer({ noDelay: true }, (raw) => this.door.handle(raw, undefined));
    opts.metrics.connections.set({ state: 'handshaking' }, 0);
    opts.metrics.connections.set({ state: 'established' }, 0);
  }

  /** Listens; a taken port fails with ConfigError `port_in_use` naming --listen. */
  static async listen(opts: CaFrontDoorOptions): Promise<TlsFrontDoor> {
    const door = new TlsFrontDoor(opts);
    await listenOn(door.listener, opts, '--listen');
    // After listen, errors are failed accepts (e.g. EMFILE): the kernel connection is dropped; keep serving.
    door.listener.on('error', (err: NodeJS.ErrnoException) => door.report('?', CA_DOOR_REASONS.acceptFailed, { err: err.code ?? err.message }));
    return door;
  }

  get port(): number {
    return (this.listener.address() as net.AddressInfo).port;
  }

  /** Swaps key, certificate and client roots; applies from the next handshake. */
  setContext(context: tls.SecureContextOptions): void {
    this.door.setContext(context);
  }

  /** TLS facts about a peer ("ip:port" as grpc-js getPeer() reports it) whose client certificate did not verify. */
  peerInfo(peer: string): PeerTlsInfo | undefined {
    return this.opts.handOff.facts(peer)?.unverified;
  }

  /** The client certificate TLS verified for a peer (one X509Certificate per connection, parsed on first use). */
  peerCertificate(peer: string): X509Certificate | undefined {
    const v = this.opts.handOff.facts(peer)?.verified;
    if (!v) return undefined;
    v.cert ??= new X509Certificate(v.raw);
    return v.cert;
  }

  /** Connections held now, by state. */
  counts(): { handshaking: number; established: number; sources: number } {
    return this.door.counts();
  }

  /** Stops accepting and closes connections still handshaking; established ones are left to grpc-js to drain. */
  close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.listener.close(() => resolve()));
    this.door.closeUnfinished();
    return closed;
  }

  /** Destroys connections still open (after the drain period). */
  destroyAll(): void {
    this.door.closeUnfinished();
    for (const { socket, facts } of this.opts.handOff.open()) {
      socket.destroy();
      facts.raw.destroy();
    }
  }

  /** TLS is up: an HTTP/2 client goes to grpc-js with what TLS learnt of its certificate. */
  private established(socket: tls.TLSSocket, conn: DoorConnection<undefined>): void {
    if (socket.alpnProtocol !== 'h2') {
      this.report(conn.peer, CA_DOOR_REASONS.notHttp2, { alpn: socket.alpnProtocol || null });
      resetSocket(socket, conn.raw);
      return;
    }
    const facts: PeerTls = { raw: conn.raw };
    const err = socket.authorizationError as (Error & { code?: string }) | null | undefined;
    if (!socket.authorized && err && socket.getPeerCertificate()?.raw) {
      facts.unverified = { certError: String(err.code ?? err.message ?? err) };
    } else if (socket.authorized) {
      const raw = socket.getPeerCertificate()?.raw;
      if (raw) facts.verified = { raw };
    }
    this.opts.handOff.hand(socket, grpcPeerName(conn.raw.remoteAddress ?? '?', conn.raw.remotePort), facts);
  }

  /**
   * Counts a refusal and logs it naming the peer: at most DEFAULT_LOG_THROTTLE lines per code and window, the next
   * line written saying how many were `suppressed`. The metric counts every one.
   */
  private report(peer: string, code: string, extra: Record<string, unknown> = {}): void {
    this.opts.metrics.connectionsRefused.inc({ reason: code });
    const suppressed = this.throttles.admit(code);
    if (suppressed !== undefined) this.opts.log.warn({ peer, code, ...extra, ...(suppressed ? { suppressed } : {}) }, 'connection refused');
  }
}

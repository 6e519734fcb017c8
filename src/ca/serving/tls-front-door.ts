// The CA's TLS listener: accepts TCP itself, caps connections (in total and per source), closes handshakes that run
// past their deadline, and hands established TLS connections to grpc-js; every refusal is counted and logged (rate-limited).
import net from 'node:net';
import { X509Certificate } from 'node:crypto';
import tls from 'node:tls';
import type { Clock, TimerHandle } from '../../common/clock.js';
import type { Logger } from '../../common/logger.js';
import { formatHostPort } from '../../common/address.js';
import { listenOn } from '../../common/listen.js';
import { KeyedLogThrottle } from '../../common/log-throttle.js';
import { injectConnection } from '../../common/node-internals.js';
import { ConnectionTable, sourceKey, type ConnectionLimits } from './connection-table.js';
import type { CaMetrics } from '../metrics.js';

/** What TLS learnt about a client certificate that it could not verify. */
export interface PeerTlsInfo {
  /** OpenSSL's verification error, e.g. CERT_HAS_EXPIRED, UNABLE_TO_VERIFY_LEAF_SIGNATURE. */
  certError: string;
}

/** Maps a handshake error to a stable refusal code. */
export function handshakeFailureCode(err: NodeJS.ErrnoException): string {
  const text = `${err.code ?? ''} ${err.message}`;
  if (/WRONG_VERSION_NUMBER|HTTP_REQUEST|http request|wrong version|UNKNOWN_PROTOCOL|packet length too long/i.test(text)) return 'plaintext_client';
  if (/ECONNRESET|socket hang up|EPIPE/i.test(text)) return 'connection_reset';
  if (/PROTOCOL|VERSION/i.test(text)) return 'tls_version';
  return 'tls_handshake_failed';
}

/**
 * A burst that held at least this many handshakes (each ~60 KB of native TLS state, docs/ca.md "Limits") asks for
 * a heap trim once it is over, i.e. once no more than TRIM_LOW_WATER are left.
 */
export const TRIM_AFTER_HANDSHAKES = 64;
export const TRIM_LOW_WATER = 8;

/** The front door's limits: the connection caps plus the time a connection has to finish its TLS handshake. */
export interface FrontDoorLimits extends ConnectionLimits {
  handshakeTimeoutMs: number;
}

export interface FrontDoorOptions {
  host: string;
  port: number;
  /** Current key, certificate chain and client roots; replaced with setContext(). */
  context: tls.SecureContextOptions;
  /** Receives each connection once TLS is up (grpc-js connection injector). */
  inject: (socket: tls.TLSSocket) => void;
  limits: FrontDoorLimits;
  metrics: Pick<CaMetrics, 'connectionsRefused' | 'connections'>;
  clock: Clock;
  log: Logger;
  /** Told when a burst of handshakes is over, to give their freed native memory back (common/heap-trimmer.ts). */
  heap?: { request(): void };
}

/**
 * The key of a connection as grpc-js getPeer() names it: "address:port", without brackets even for IPv6 (so it is
 * not formatHostPort, which the log lines use).
 */
function grpcPeer(address: string, port: number | undefined): string {
  return `${address}:${port ?? 0}`;
}

/** One accepted TCP connection, from accept to close. */
interface Conn {
  raw: net.Socket;
  tls?: tls.TLSSocket;
  /** For log lines: "10.1.2.3:5000", "[fd00::1]:5000". */
  peer: string;
  /** For lookups by grpc-js getPeer(). */
  key: string;
  source: string;
  timer?: TimerHandle;
  /** Set once the front door closed it or reported its failure, so it is reported only once. */
  done: boolean;
}

/** A TCP listener with caps, feeding a TLS server (client certificate requested, not required) in front of grpc-js. */
export class TlsFrontDoor {
  private readonly listener: net.Server;
  private readonly tlsServer: tls.Server;
  private readonly table: ConnectionTable<Conn>;
  /** Open connections by grpc-js peer key. */
  private readonly byPeer = new Map<string, Conn>();
  private readonly unverified = new Map<string, PeerTlsInfo>();
  /** Verified client certificates by peer, parsed at most once per connection. */
  private readonly verified = new Map<string, { raw: Buffer; cert?: X509Certificate }>();
  /** Most handshakes held since the last trim request. */
  private burstPeak = 0;
  /** One line budget per refusal code, so a flood of one kind cannot hide another. */
  private readonly throttles: KeyedLogThrottle;

  private constructor(private readonly opts: FrontDoorOptions) {
    this.table = new ConnectionTable<Conn>(opts.limits);
    this.throttles = new KeyedLogThrottle(opts.clock);
    // Node's own handshakeTimeout only reports (tlsClientError) and restarts on every byte; the front door's
    // deadline runs from accept and closes the socket.
    this.tlsServer = tls.createServer({ ...opts.context, requestCert: true, rejectUnauthorized: false, ALPNProtocols: ['h2'], handshakeTimeout: 0 });
    this.tlsServer.on('secureConnection', (socket) => this.established(socket));
    this.tlsServer.on('tlsClientError', (err: NodeJS.ErrnoException, socket) => this.handshakeFailed(err, socket));
    this.listener = net.createServer({ noDelay: true }, (raw) => this.accept(raw));
    this.updateGauge();
  }

  /** Listens; a taken port fails with ConfigError `port_in_use` naming --listen. */
  static async listen(opts: FrontDoorOptions): Promise<TlsFrontDoor> {
    const door = new TlsFrontDoor(opts);
    await listenOn(door.listener, opts, '--listen');
    // After listen, errors are failed accepts (e.g. EMFILE): the kernel connection is dropped; keep serving.
    door.listener.on('error', (err: NodeJS.ErrnoException) => door.report('?', 'accept_failed', { err: err.code ?? err.message }));
    return door;
  }

  get port(): number {
    return (this.listener.address() as net.AddressInfo).port;
  }

  /** Swaps key, certificate and client roots; applies from the next handshake. */
  setContext(context: tls.SecureContextOptions): void {
    this.tlsServer.setSecureContext(context);
  }

  /** TLS facts about a peer ("ip:port" as grpc-js getPeer() reports it) whose client certificate did not verify. */
  peerInfo(peer: string): PeerTlsInfo | undefined {
    return this.unverified.get(peer);
  }

  /** The client certificate TLS verified for a peer (one X509Certificate per connection, parsed on first use). */
  peerCertificate(peer: string): X509Certificate | undefined {
    const v = this.verified.get(peer);
    if (!v) return undefined;
    v.cert ??= new X509Certificate(v.raw);
    return v.cert;
  }

  /** Connections held now, by state. */
  counts(): { handshaking: number; established: number; sources: number } {
    return this.table.counts();
  }

  /** Stops accepting and closes connections still handshaking; established ones are left to grpc-js to drain. */
  close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.listener.close(() => resolve()));
    for (const c of [...this.byPeer.values()]) if (this.table.isHandshaking(c)) c.raw.destroy();
    return closed;
  }

  /** Destroys connections still open (after the drain period). */
  destroyAll(): void {
    for (const c of [...this.byPeer.values()]) {
      c.tls?.destroy();
      c.raw.destroy();
    }
  }

  private accept(raw: net.Socket): void {
    // Errors before TLS (a reset) end in 'close'; they need no handler of their own beyond not crashing.
    raw.on('error', () => undefined);
    const address = raw.remoteAddress;
    if (!address) {
      raw.destroy();
      return;
    }
    const conn: Conn = {
      raw, peer: formatHostPort(address, raw.remotePort ?? 0), key: grpcPeer(address, raw.remotePort), source: sourceKey(address), done: false,
    };
    const admission = this.table.admit(conn, conn.source);
    if (!admission.ok) {
      conn.done = true;
      raw.destroy();
      this.report(conn.peer, admission.reason);
      return;
    }
    if (admission.evict) this.refuse(admission.evict, 'handshake_evicted');
    this.byPeer.set(conn.key, conn);
    this.updateGauge();
    raw.once('close', () => this.forget(conn));
    conn.timer = this.opts.clock.setTimeout(() => {
      if (this.table.isHandshaking(conn)) this.refuse(conn, 'handshake_timeout');
    }, this.opts.limits.handshakeTimeoutMs);
    // A client that sends nothing costs a bare TCP socket: TLS state is allocated only once its first bytes arrive
    // (Node's TLSSocket takes over the bytes already read).
    const onReadable = () => {
      raw.removeListener('readable', onReadable);
      if (raw.readableLength === 0) {
        raw.destroy(); // hung up without a word: a port scan or a TCP probe
        return;
      }
      this.table.spoke(conn);
      try {
        injectConnection(this.tlsServer, raw);
      } catch (e) {
        this.refuse(conn, 'node_internals_changed', { err: (e as Error).message });
      }
    };
    raw.on('readable', onReadable);
  }

  private established(socket: tls.TLSSocket): void {
    const conn = this.byPeer.get(grpcPeer(socket.remoteAddress ?? '?', socket.remotePort));
    if (!conn || conn.done) {
      socket.destroy(); // closed by the front door meanwhile
      return;
    }
    conn.tls = socket;
    conn.timer?.cancel();
    if (socket.alpnProtocol !== 'h2') {
      this.refuse(conn, 'not_http2', { alpn: socket.alpnProtocol || null });
      return;
    }
    this.table.establish(conn);
    this.updateGauge();
    const err = socket.authorizationError as (Error & { code?: string }) | null | undefined;
    if (!socket.authorized && err && socket.getPeerCertificate()?.raw) {
      this.unverified.set(conn.key, { certError: String(err.code ?? err.message ?? err) });
    } else if (socket.authorized) {
      const raw = socket.getPeerCertificate()?.raw;
      if (raw) this.verified.set(conn.key, { raw });
    }
    this.opts.inject(socket);
  }

  private handshakeFailed(err: NodeJS.ErrnoException, socket: tls.TLSSocket): void {
    const conn = socket.remoteAddress ? this.byPeer.get(grpcPeer(socket.remoteAddress, socket.remotePort)) : undefined;
    socket.destroy();
    if (!conn || conn.done) return; // the front door closed it and said why
    conn.done = true;
    conn.raw.destroy();
    const code = handshakeFailureCode(err);
    // A peer that hangs up during TLS (a TCP health probe, a port scan) was not refused: keep it out of warn logs.
    if (code === 'connection_reset') this.opts.log.debug({ peer: conn.peer, code, detail: err.message }, 'connection closed by peer');
    else this.report(conn.peer, code, { detail: err.message });
  }

  /** Closes a connection the front door refuses, reporting why. */
  private refuse(conn: Conn, code: string, extra: Record<string, unknown> = {}): void {
    if (conn.done) return;
    conn.done = true;
    conn.tls?.destroy();
    conn.raw.destroy();
    this.report(conn.peer, code, extra);
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

  private forget(conn: Conn): void {
    conn.timer?.cancel();
    this.table.remove(conn);
    if (this.byPeer.get(conn.key) === conn) {
      this.byPeer.delete(conn.key);
      this.unverified.delete(conn.key);
      this.verified.delete(conn.key);
    }
    this.updateGauge();
  }

  private updateGauge(): void {
    const c = this.table.counts();
    this.burstPeak = Math.max(this.burstPeak, c.handshaking);
    if (this.burstPeak >= TRIM_AFTER_HANDSHAKES && c.handshaking <= TRIM_LOW_WATER) {
      this.burstPeak = c.handshaking;
      this.opts.heap?.request();
    }
    this.opts.metrics.connections.set({ state: 'handshaking' }, c.handshaking);
    this.opts.metrics.connections.set({ state: 'established' }, c.established);
  }
}

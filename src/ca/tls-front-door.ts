// The CA's TLS listener. It terminates TLS itself and hands each established connection to grpc-js
// (Server.createConnectionInjector), so that every refused connection — plaintext, failed handshake,
// client certificate that does not verify — gets a log line with the peer and a stable code.
import type net from 'node:net';
import { X509Certificate } from 'node:crypto';
import tls from 'node:tls';
import type { Logger } from '../common/logger.js';
import { ConfigError } from '../common/errors.js';
import { formatHostPort } from '../common/address.js';

/** A handshake that has not finished by then is dropped. */
export const HANDSHAKE_TIMEOUT_MS = 10_000;

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

export interface FrontDoorOptions {
  host: string;
  port: number;
  /** Current key, certificate chain and client roots; replaced with setContext(). */
  context: tls.SecureContextOptions;
  /** Receives each connection once TLS is up (grpc-js connection injector). */
  inject: (socket: tls.TLSSocket) => void;
  log: Logger;
}

/** A TLS listener (client certificate requested, not required) in front of grpc-js. */
export class TlsFrontDoor {
  private readonly server: tls.Server;
  private readonly unverified = new Map<string, PeerTlsInfo>();
  /** Verified client certificates by peer, parsed at most once per connection. */
  private readonly verified = new Map<string, { raw: Buffer; cert?: X509Certificate }>();
  private readonly sockets = new Set<tls.TLSSocket>();

  private constructor(private readonly opts: FrontDoorOptions) {
    this.server = tls.createServer({
      ...opts.context, requestCert: true, rejectUnauthorized: false, ALPNProtocols: ['h2'], handshakeTimeout: HANDSHAKE_TIMEOUT_MS, noDelay: true,
    });
    this.server.on('secureConnection', (socket) => this.established(socket));
    this.server.on('tlsClientError', (err: NodeJS.ErrnoException, socket) => {
      const peer = formatHostPort(socket.remoteAddress ?? '?', socket.remotePort ?? 0);
      const code = handshakeFailureCode(err);
      // A peer that hangs up before TLS (a TCP health probe, a port scan) was not refused: keep it out of warn logs.
      this.opts.log[code === 'connection_reset' ? 'debug' : 'warn']({ peer, code, reason: err.message }, 'connection refused');
    });
  }

  /** Listens; a taken port fails with ConfigError `port_in_use` naming --listen. */
  static async listen(opts: FrontDoorOptions): Promise<TlsFrontDoor> {
    const door = new TlsFrontDoor(opts);
    await new Promise<void>((resolve, reject) => {
      door.server.once('error', (err: NodeJS.ErrnoException) => reject(err.code === 'EADDRINUSE'
        ? new ConfigError('port_in_use', `--listen ${formatHostPort(opts.host, opts.port)} is already in use`)
        : new ConfigError('listen_failed', `--listen ${formatHostPort(opts.host, opts.port)}: ${err.message}`)));
      door.server.listen(opts.port, opts.host, () => resolve());
    });
    return door;
  }

  get port(): number {
    return (this.server.address() as net.AddressInfo).port;
  }

  /** Swaps key, certificate and client roots; applies from the next handshake. */
  setContext(context: tls.SecureContextOptions): void {
    this.server.setSecureContext(context);
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

  /** Stops accepting; established connections are left to grpc-js to drain. */
  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  /** Destroys connections still open (after the drain period). */
  destroyAll(): void {
    for (const s of this.sockets) s.destroy();
  }

  private established(socket: tls.TLSSocket): void {
    const peer = formatHostPort(socket.remoteAddress ?? '?', socket.remotePort ?? 0);
    if (socket.alpnProtocol !== 'h2') {
      this.opts.log.warn({ peer, code: 'not_http2', alpn: socket.alpnProtocol || null }, 'connection refused');
      socket.destroy();
      return;
    }
    this.sockets.add(socket);
    socket.once('close', () => {
      this.sockets.delete(socket);
      this.unverified.delete(peer);
      this.verified.delete(peer);
    });
    const err = socket.authorizationError as (Error & { code?: string }) | null | undefined;
    if (!socket.authorized && err && socket.getPeerCertificate()?.raw) {
      this.unverified.set(peer, { certError: String(err.code ?? err.message ?? err) });
    } else if (socket.authorized) {
      const raw = socket.getPeerCertificate()?.raw;
      if (raw) this.verified.set(peer, { raw });
    }
    this.opts.inject(socket);
  }
}

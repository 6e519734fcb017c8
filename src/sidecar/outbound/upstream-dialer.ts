// Raw mTLS to an upstream: dials with TLS 1.3 and the current SVID, checks the server's SPIFFE ID (not its hostname)
// and resumes TLS 1.3 sessions per upstream, from the one session cache of the data path.
import net from 'node:net';
import tls from 'node:tls';
import type { Clock } from '../../common/clock.js';
import { describe } from '../../common/errors.js';
import type { Logger } from '../../common/logger.js';
import { offerSession } from '../../common/node-internals.js';
import { checkLeafSvid } from '../../pki/leaf-svid.js';
import { certNotAfterMs } from '../../pki/validity.js';
import { expectationText, serverIdMatches } from '../authz.js';
import { resetLeg, type SocketLeg } from '../pipe.js';
import { REASONS, tlsErrorReason } from '../reasons.js';
import type { TlsContextHolder } from '../tls-context.js';
import { DialError, type DialedSocket, type UpstreamTarget, type UpstreamTransport } from './transport.js';
import { formatHostPort } from '../../common/address.js';

/** Sessions kept per upstream; TLS 1.3 tickets are small and one is enough to resume. */
export const MAX_CACHED_UPSTREAMS = 4096;
/**
 * A cached ticket younger than this is reused without asking node for the new tickets the server sends: each one
 * costs an i2d_SSL_SESSION and an event per connection. Tickets from node/OpenSSL servers live 300 s (sessionTimeout).
 */
export const TICKET_REFRESH_MS = 30_000;

interface CachedSession {
  generation: number;
  ticket: Buffer;
  /** The server ID verified on the full handshake this ticket descends from. */
  peerId: string;
  peerNotAfterMs: number | undefined;
  storedAtMs: number;
}

/**
 * Dials upstreams with the current SVID and checks who answered. The data path builds one per sidecar (every
 * outbound listener, explicit or transparent, shares it), so it holds the one session cache, keyed by upstream address.
 */
export class UpstreamDialer implements UpstreamTransport {
  private readonly sessions = new Map<string, CachedSession>();
  private readonly socketWatchers = new Set<(raw: net.Socket) => void>();
  private resumptionBroken = false;

  constructor(
    private readonly contexts: TlsContextHolder,
    private readonly clock: Clock,
    private readonly trustDomain: string,
    private readonly log?: Logger,
  ) {}

  /** Calls `watcher` with every raw TCP socket dialled (transparent mode spots its own dials redirected back). */
  watchSockets(watcher: (raw: net.Socket) => void): () => void {
    this.socketWatchers.add(watcher);
    return () => void this.socketWatchers.delete(watcher);
  }

  /** Forgets every cached session (tests, and a trust change the caller knows about). */
  clearSessions(): void {
    this.sessions.clear();
  }

  /** Offers a cached ticket; a Node.js without the means to is said once and then dials without resumption. */
  private resume(t: tls.TLSSocket, ticket: Buffer): void {
    if (this.resumptionBroken) return;
    try {
      offerSession(t, ticket);
    } catch (e) {
      this.resumptionBroken = true;
      const { code, message } = describe(e);
      this.log?.error({ code, err: message }, 'TLS session resumption is off: every outbound connection makes a full handshake');
    }
  }

  /**
   * Dials `target`, resolving with a verified TLS leg or rejecting with a DialError whose code is a reason. `alpn`
   * offers application protocols (the tunnel pool offers h2); the server's choice comes back as alpnProtocol.
   */
  dial(target: UpstreamTarget, handshakeTimeoutMs: number, signal?: AbortSignal, alpn?: string[]): Promise<DialedSocket> {
    const material = this.contexts.usable();
    if (!material) return Promise.reject(new DialError(REASONS.noSvid, 'no valid SVID: refusing to dial'));
    const { host, port } = target.upstream;
    const key = formatHostPort(host, port);
    const cached = this.sessions.get(key);
    const startedMs = this.clock.now();
    const session = cached && cached.generation === material.generation ? cached : undefined;
    let peerId: string | undefined;
    let peerNotAfterMs: number | undefined;
    let verified = false;
    let pendingTickets: Buffer[] = [];

    return new Promise<DialedSocket>((resolve, reject) => {
      const raw = net.connect({ host, port, allowHalfOpen: true, noDelay: true });
      raw.on('error', () => {}); // the TLS socket on top reports failures; a late raw error must not crash the process
      for (const w of this.socketWatchers) w(raw);
      const t: tls.TLSSocket = tls.connect({
        socket: raw,
        secureContext: material.clientContext,
        ...(net.isIP(host) ? {} : { servername: host }),
        ...(alpn ? { ALPNProtocols: alpn } : {}),
        // Called by node on full handshakes only, after the chain verified against the bundle. The leaf is read
        // as node's X509Certificate (a reference to OpenSSL's, not a parse); a resumed session inherits this check.
        checkServerIdentity: (): Error | undefined => {
          const leaf = t.getPeerX509Certificate();
          const svid = leaf ? checkLeafSvid(leaf) : undefined;
          peerId = svid?.spiffeId;
          peerNotAfterMs = leaf ? certNotAfterMs(leaf) : undefined;
          if (!svid?.ok) {
            const why = svid ? `${svid.code}: ${svid.detail}` : 'no certificate';
            return new DialError(REASONS.invalidSvid, `upstream ${key} presented a certificate that is not a leaf SVID (${why})`, peerId);
          }
          if (serverIdMatches(peerId, target.expect, this.trustDomain)) return undefined;
          return new DialError(REASONS.serverIdMismatch, `upstream ${key} presented ${peerId ?? 'no SPIFFE ID'}, expected ${expectationText(target.expect) ?? `an ID of ${this.trustDomain}`}`, peerId);
        },
      });
      // Set here rather than as tls.connect's `session` option (see offerSession). The ClientHello is only built
      // once the TCP connection is up, so it still carries the ticket.
      if (session) this.resume(t, session.ticket);
      const leg: SocketLeg = { stream: t, tcp: raw };
      let done = false;
      const timer = this.clock.setTimeout(() => fail(new DialError(REASONS.handshakeTimeout, `no TLS handshake with ${key} within ${handshakeTimeoutMs} ms`)), handshakeTimeoutMs);
      const onAbort = () => fail(new DialError(REASONS.peerClosed, 'the app closed its connection during the handshake'));
      const cleanup = () => {
        done = true;
        timer.cancel();
        t.removeListener('error', fail);
        raw.removeListener('error', fail);
        signal?.removeEventListener('abort', onAbort);
      };
      function fail(err: Error): void {
        if (done) return;
        cleanup();
        t.on('error', () => {}); // keep swallowing late errors of a leg we are tearing down
        resetLeg(leg);
        if (err instanceof DialError) return reject(err);
        const reason = tlsErrorReason(err);
        reject(new DialError(reason, `dialing ${key}: ${err.message}`, peerId, { cause: err }));
      }
      const store = (ticket: Buffer) => {
        if (!peerId) return;
        if (this.sessions.size >= MAX_CACHED_UPSTREAMS && !this.sessions.has(key)) this.sessions.delete(this.sessions.keys().next().value!);
        this.sessions.set(key, { generation: material.generation, ticket, peerId, peerNotAfterMs, storedAtMs: this.clock.now() });
      };
      t.on('error', fail);
      raw.on('error', fail);
      signal?.addEventListener('abort', onAbort);
      const wantTickets = !session || this.clock.now() - session.storedAtMs > TICKET_REFRESH_MS;
      if (wantTickets) {
        t.on('session', (ticket: Buffer) => {
          if (verified) store(ticket);
          else pendingTickets.push(ticket);
        });
      }
      t.once('secureConnect', () => {
        if (done) return;
        const resumed = t.isSessionReused();
        // The cached ticket no longer resumes and we did not ask for new ones: fetch a fresh one on the next dial.
        if (!resumed && !wantTickets) this.sessions.delete(key);
        if (resumed) {
          // No certificate is sent on a resumed TLS 1.3 session (node exposes none on the client side);
          // the identity is the one verified when the ticket's session was established. Re-check it
          // against the current expectation so that a changed `expect` applies to the next connection.
          peerId = session?.peerId;
          peerNotAfterMs = session?.peerNotAfterMs;
          if (!serverIdMatches(peerId, target.expect, this.trustDomain)) {
            this.sessions.delete(key);
            return fail(new DialError(REASONS.serverIdMismatch, `upstream ${key} (resumed) is ${peerId ?? 'unknown'}, expected ${expectationText(target.expect) ?? `an ID of ${this.trustDomain}`}`, peerId));
          }
        } else if (!peerId) {
          return fail(new DialError(REASONS.serverIdMismatch, `upstream ${key}: no server identity was checked`));
        }
        verified = true;
        for (const ticket of pendingTickets) store(ticket);
        pendingTickets = [];
        cleanup();
        resolve({
          leg, peerId: peerId!, resumed, handshakeMs: this.clock.now() - startedMs, alpnProtocol: t.alpnProtocol ?? false,
          ...(peerNotAfterMs === undefined ? {} : { peerNotAfterMs }),
        });
      });
    });
  }
}

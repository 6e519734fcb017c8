// Outbound mTLS: takes plain TCP from the local app, dials the upstream with TLS 1.3 and the current SVID,
// checks the server's SPIFFE ID (not its hostname), and splices. TLS 1.3 sessions are resumed per upstream.
import net from 'node:net';
import tls from 'node:tls';
import type { Clock } from '../common/clock.js';
import type { HostPort } from '../common/address.js';
import { describe, ProxyError } from '../common/errors.js';
import type { Logger } from '../common/logger.js';
import { offerSession } from '../common/node-internals.js';
import { checkLeafSvid } from '../pki/leaf-svid.js';
import type { AppSocketBuffers } from './app-buffers.js';
import { expectationText, serverIdMatches, type ServerExpectation } from './authz.js';
import type { ConnectionSet } from './connection-set.js';
import { peerLabel, type ConnectionReporter } from './datapath-metrics.js';
import type { LivenessSweep } from './liveness-sweep.js';
import { plainLeg, resetLeg, splice, type Leg, type SocketLeg } from './pipe.js';
import { REASONS, serverRefusalReason, tlsErrorReason } from './reasons.js';
import type { TlsContextHolder } from './tls-context.js';

/** Sessions kept per upstream; TLS 1.3 tickets are small and one is enough to resume. */
export const MAX_CACHED_UPSTREAMS = 4096;
/**
 * A cached ticket younger than this is reused without asking node for the new tickets the server sends: each one
 * costs an i2d_SSL_SESSION and an event per connection. Tickets from node/OpenSSL servers live 300 s (sessionTimeout).
 */
export const TICKET_REFRESH_MS = 30_000;
/**
 * An upstream refuses our certificate only after TLS 1.3's handshake has finished on our side. A connection is
 * counted as accepted once the upstream sends its first byte, or after twice the handshake time (at least this
 * long); a reset or an alert before that counts as the upstream's refusal.
 */
export const REFUSAL_WINDOW_MIN_MS = 500;

/** Where to dial and whom to expect there. */
export interface UpstreamTarget {
  upstream: HostPort;
  /** The server's SPIFFE ID must match this; without it any ID of our trust domain is accepted. */
  expect?: ServerExpectation;
}

/** A verified upstream connection, ready to splice. */
export interface DialedUpstream {
  leg: Leg;
  peerId: string;
  resumed: boolean;
  /** From the TCP dial to our side of the handshake finishing (or to the tunnel stream being answered). */
  handshakeMs: number;
  /** The upstream already took the connection (a tunnel stream answered 200): no refusal window to wait out. */
  accepted?: boolean;
  /** The server certificate's notAfter, when this dial or the full handshake its ticket descends from saw it. */
  peerNotAfterMs?: number;
}

/** A verified mTLS connection from UpstreamDialer: a socket leg, and the ALPN protocol the server chose. */
export interface DialedSocket extends DialedUpstream {
  leg: SocketLeg;
  alpnProtocol: string | false;
}

interface CachedSession {
  generation: number;
  ticket: Buffer;
  /** The server ID verified on the full handshake this ticket descends from. */
  peerId: string;
  peerNotAfterMs: number | undefined;
  storedAtMs: number;
}

/** A ProxyError that also names the peer's SPIFFE ID when it was seen. */
export class DialError extends ProxyError {
  constructor(code: string, message: string, readonly peerId?: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

/**
 * How the outbound reaches an upstream for one app connection and learns who answered. UpstreamDialer (one mTLS
 * connection per app connection) is the one transport today; a pooled one (HTTP/2 CONNECT streams over shared mTLS
 * connections) plugs in beside it with the same contract (docs/design.md "Data flow").
 */
export interface UpstreamTransport {
  /** Resolves with a verified leg, or rejects with a DialError whose code is a reason (reasons.ts). */
  dial(target: UpstreamTarget, handshakeTimeoutMs: number, signal?: AbortSignal): Promise<DialedUpstream>;
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
    const key = `${host}:${port}`;
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
          peerNotAfterMs = leaf ? Date.parse(leaf.validTo) : undefined;
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

export interface OutboundOptions {
  handshakeTimeoutMs: number;
  idleTimeoutMs: number;
}

export interface OutboundDeps {
  contexts: TlsContextHolder;
  transport: UpstreamTransport;
  reporter: ConnectionReporter;
  /** This listener's open app connections, inside the data path's set. */
  connections: ConnectionSet;
  clock: Clock;
  /** Sizes the kernel buffers of each accepted app socket (app-buffers.ts). */
  appBuffers?: AppSocketBuffers;
  /** Notices an upstream (or app) that left while its leg is paused (liveness-sweep.ts). */
  sweep?: LivenessSweep;
}

/**
 * Handles accepted plain app sockets. Composable: the explicit listener and transparent mode both call
 * handle(app, target). The app socket should be paused (pauseOnConnect) so nothing is read before the
 * upstream is verified.
 */
export class OutboundHandler {
  constructor(private readonly deps: OutboundDeps, private readonly opts: OutboundOptions) {}

  /** App connections accepted and not yet closed (dialling or forwarding). */
  activeCount(): number {
    return this.deps.connections.size;
  }

  whenIdle(): Promise<void> {
    return this.deps.connections.whenIdle();
  }

  destroyAll(): void {
    this.deps.connections.destroyAll();
  }

  /** Dials `target` for one app connection and splices them, or refuses the app connection. */
  handle(app: net.Socket, target: UpstreamTarget): void {
    const { reporter } = this.deps;
    // "ip:port" of the app, read from the socket (a getpeername) only for a refusal or a debug line; read at once when
    // debug lines are on, since a line written after the socket closed could no longer read it.
    let peerText: string | undefined;
    const peer = (): string => (peerText ??= peerLabel(app.remoteAddress, app.remotePort));
    const debug = reporter.log.isLevelEnabled('debug');
    if (debug) peer();
    app.on('error', () => {}); // errors before the splice end the dial through the abort signal below
    if (!this.deps.contexts.usable()) {
      reporter.refused(peer(), REASONS.noSvid);
      resetLeg(plainLeg(app));
      return;
    }
    app.setNoDelay(true);
    this.deps.appBuffers?.apply(app);
    this.deps.connections.track(app);
    const abort = new AbortController();
    const onClose = () => abort.abort();
    app.once('close', onClose);
    this.deps.transport.dial(target, this.opts.handshakeTimeoutMs, abort.signal).then(
      ({ leg, peerId, resumed, handshakeMs, accepted }) => {
        app.removeListener('close', onClose);
        if (app.destroyed) {
          resetLeg(leg);
          return;
        }
        const upstream = `${target.upstream.host}:${target.upstream.port}`;
        const conn = reporter.pending();
        if (debug) reporter.log.debug({ peer: peer(), upstream, peerId, resumed, tunnel: leg.tcp === null }, 'outbound connection established');
        if (accepted) {
          // A tunnel stream is answered before any byte flows: it was accepted, or refused with a reason (the dial failed).
          conn.accept();
          splice(plainLeg(app), leg, {
            idleTimeoutMs: this.opts.idleTimeoutMs, clock: this.deps.clock, ...(this.deps.sweep ? { sweep: this.deps.sweep } : {}),
            onEnd: (end) => {
              conn.close();
              if (debug && (end.error || end.idle)) reporter.log.debug({ peer: peer(), peerId, idle: end.idle, err: end.error?.message }, 'outbound connection ended abnormally');
            },
          });
          return;
        }
        // Settled by the first of: the upstream's first byte or the window passing (accepted), the app failing
        // (accepted: the app went away), the upstream failing (its refusal: a reset or an alert), or the upstream
        // ending before it said anything while the app still had its side open (a refusal too).
        const settle = (who: 'app' | 'upstream', err?: Error & { code?: string }) => {
          if (conn.settled) return;
          timer.cancel();
          leg.stream.removeListener('data', confirm);
          if (who === 'app') return conn.accept();
          conn.refuse(peer(), serverRefusalReason(err), {
            peerId, upstream, detail: `${upstream} ${err ? `dropped the connection (${err.code ?? err.message})` : 'closed the connection'} after the handshake, before answering`,
          });
        };
        const confirm = () => settle('app');
        const windowMs = Math.min(this.opts.handshakeTimeoutMs, Math.max(REFUSAL_WINDOW_MIN_MS, 2 * handshakeMs));
        const timer = this.deps.clock.setTimeout(confirm, windowMs);
        let appEnded = false;
        app.once('error', () => settle('app'));
        app.once('end', () => { appEnded = true; });
        leg.stream.once('error', (err) => settle('upstream', err));
        leg.stream.once('end', () => settle(appEnded ? 'app' : 'upstream'));
        splice(plainLeg(app), leg, {
          idleTimeoutMs: this.opts.idleTimeoutMs, clock: this.deps.clock, ...(this.deps.sweep ? { sweep: this.deps.sweep } : {}),
          onEnd: (end) => {
            settle('app');
            conn.close();
            if (debug && (end.error || end.idle)) reporter.log.debug({ peer: peer(), peerId, idle: end.idle, err: end.error?.message }, 'outbound connection ended abnormally');
          },
        });
        // After splice's own 'data' listener, so this one only watches the first chunk go by.
        leg.stream.once('data', confirm);
      },
      (err: DialError) => {
        app.removeListener('close', onClose);
        const upstream = `${target.upstream.host}:${target.upstream.port}`;
        if (err.code === REASONS.peerClosed && abort.signal.aborted) {
          if (debug) reporter.log.debug({ peer: peer(), upstream }, 'app closed during the upstream handshake');
        } else if (err.code === REASONS.upstreamUnavailable || err.code === REASONS.peerClosed || err.code === REASONS.forwardUnavailable) {
          reporter.failed(peer(), err.code, { peerId: err.peerId, detail: `${upstream}: ${err.message}` });
        } else {
          reporter.refused(peer(), err.code, { peerId: err.peerId, detail: `${upstream}: ${err.message}`, upstream });
        }
        resetLeg(plainLeg(app));
      },
    );
  }
}

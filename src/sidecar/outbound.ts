// Outbound mTLS: takes plain TCP from the local app, dials the upstream with TLS 1.3 and the current SVID,
// checks the server's SPIFFE ID (not its hostname), and splices. TLS 1.3 sessions are resumed per upstream.
import net from 'node:net';
import tls from 'node:tls';
import type { Clock } from '../common/clock.js';
import type { HostPort } from '../common/address.js';
import { ProxyError } from '../common/errors.js';
import { checkLeafSvid } from '../pki/leaf-svid.js';
import type { SpiffePattern } from '../pki/spiffe-id.js';
import { serverIdMatches } from './authz.js';
import { peerLabel, type ConnectionReporter } from './datapath-metrics.js';
import { plainLeg, resetLeg, splice, type Leg } from './pipe.js';
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
  expect?: SpiffePattern;
}

/** A verified upstream connection, ready to splice. */
export interface DialedUpstream {
  leg: Leg;
  peerId: string;
  resumed: boolean;
  /** From the TCP dial to our side of the handshake finishing. */
  handshakeMs: number;
}

interface CachedSession {
  generation: number;
  ticket: Buffer;
  /** The server ID verified on the full handshake this ticket descends from. */
  peerId: string;
  storedAtMs: number;
}

/** A ProxyError that also names the peer's SPIFFE ID when it was seen. */
export class DialError extends ProxyError {
  constructor(code: string, message: string, readonly peerId?: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

/**
 * Dials upstreams with the current SVID and checks who answered. One per process is enough;
 * it holds the session cache keyed by upstream address.
 */
export class UpstreamDialer {
  private readonly sessions = new Map<string, CachedSession>();

  /** `hooks.onSocket` sees every raw TCP socket dialled (transparent mode tracks them to spot its own dials redirected back). */
  constructor(
    private readonly contexts: TlsContextHolder,
    readonly clock: Clock,
    private readonly trustDomain: string,
    private readonly hooks: { onSocket?: (raw: net.Socket) => void } = {},
  ) {}

  /** Forgets every cached session (tests, and a trust change the caller knows about). */
  clearSessions(): void {
    this.sessions.clear();
  }

  /** Dials `target`, resolving with a verified TLS leg or rejecting with a DialError whose code is a reason. */
  dial(target: UpstreamTarget, handshakeTimeoutMs: number, signal?: AbortSignal): Promise<DialedUpstream> {
    const material = this.contexts.usable();
    if (!material) return Promise.reject(new DialError(REASONS.noSvid, 'no valid SVID: refusing to dial'));
    const { host, port } = target.upstream;
    const key = `${host}:${port}`;
    const cached = this.sessions.get(key);
    const startedMs = this.clock.now();
    const session = cached && cached.generation === material.generation ? cached : undefined;
    let peerId: string | undefined;
    let verified = false;
    let pendingTickets: Buffer[] = [];

    return new Promise<DialedUpstream>((resolve, reject) => {
      const raw = net.connect({ host, port, allowHalfOpen: true, noDelay: true });
      raw.on('error', () => {}); // the TLS socket on top reports failures; a late raw error must not crash the process
      this.hooks.onSocket?.(raw);
      const t: tls.TLSSocket = tls.connect({
        socket: raw,
        secureContext: material.clientContext,
        ...(net.isIP(host) ? {} : { servername: host }),
        // Called by node on full handshakes only, after the chain verified against the bundle. The leaf is read
        // as node's X509Certificate (a reference to OpenSSL's, not a parse); a resumed session inherits this check.
        checkServerIdentity: (): Error | undefined => {
          const leaf = t.getPeerX509Certificate();
          const svid = leaf ? checkLeafSvid(leaf) : undefined;
          peerId = svid?.spiffeId;
          if (!svid?.ok) {
            const why = svid ? `${svid.code}: ${svid.detail}` : 'no certificate';
            return new DialError(REASONS.invalidSvid, `upstream ${key} presented a certificate that is not a leaf SVID (${why})`, peerId);
          }
          if (serverIdMatches(peerId, target.expect, this.trustDomain)) return undefined;
          return new DialError(REASONS.serverIdMismatch, `upstream ${key} presented ${peerId ?? 'no SPIFFE ID'}, expected ${target.expect?.text ?? `an ID of ${this.trustDomain}`}`, peerId);
        },
      });
      // Set here rather than as tls.connect's `session` option, which node 20 parses twice (d2i_SSL_SESSION in
      // _init and again in tls.connect); each parse decodes the server certificate, ~0.4 ms with OpenSSL 3.0.
      // The ClientHello is only built once the TCP connection is up, so it still carries the ticket.
      // setSession() is on TLSSocket since node 0.x but missing from @types/node.
      if (session) (t as tls.TLSSocket & { setSession(ticket: Buffer): void }).setSession(session.ticket);
      const leg: Leg = { stream: t, tcp: raw };
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
        this.sessions.set(key, { generation: material.generation, ticket, peerId, storedAtMs: this.clock.now() });
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
          if (!serverIdMatches(peerId, target.expect, this.trustDomain)) {
            this.sessions.delete(key);
            return fail(new DialError(REASONS.serverIdMismatch, `upstream ${key} (resumed) is ${peerId ?? 'unknown'}, expected ${target.expect?.text ?? `an ID of ${this.trustDomain}`}`, peerId));
          }
        } else if (!peerId) {
          return fail(new DialError(REASONS.serverIdMismatch, `upstream ${key}: no server identity was checked`));
        }
        verified = true;
        for (const ticket of pendingTickets) store(ticket);
        pendingTickets = [];
        cleanup();
        resolve({ leg, peerId: peerId!, resumed, handshakeMs: this.clock.now() - startedMs });
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
  dialer: UpstreamDialer;
  reporter: ConnectionReporter;
}

/**
 * Handles accepted plain app sockets. Composable: the explicit listener and transparent mode both call
 * handle(app, target). The app socket should be paused (pauseOnConnect) so nothing is read before the
 * upstream is verified.
 */
export class OutboundHandler {
  private readonly live = new Set<net.Socket>();
  private idleWaiters: (() => void)[] = [];

  constructor(private readonly deps: OutboundDeps, private readonly opts: OutboundOptions) {}

  activeCount(): number {
    return this.live.size;
  }

  whenIdle(): Promise<void> {
    if (this.live.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  destroyAll(): void {
    for (const s of [...this.live]) resetLeg(plainLeg(s));
  }

  /** Dials `target` for one app connection and splices them, or refuses the app connection. */
  handle(app: net.Socket, target: UpstreamTarget): void {
    const peer = peerLabel(app.remoteAddress, app.remotePort);
    const { reporter } = this.deps;
    app.on('error', () => {}); // errors before the splice end the dial through the abort signal below
    if (!this.deps.contexts.usable()) {
      reporter.refused(peer, REASONS.noSvid);
      resetLeg(plainLeg(app));
      return;
    }
    app.setNoDelay(true);
    this.track(app);
    const abort = new AbortController();
    const onClose = () => abort.abort();
    app.once('close', onClose);
    this.deps.dialer.dial(target, this.opts.handshakeTimeoutMs, abort.signal).then(
      ({ leg, peerId, resumed, handshakeMs }) => {
        app.removeListener('close', onClose);
        if (app.destroyed) {
          resetLeg(leg);
          return;
        }
        const upstream = `${target.upstream.host}:${target.upstream.port}`;
        const conn = reporter.pending();
        reporter.log.debug({ peer, upstream, peerId, resumed }, 'outbound connection established');
        // Settled by the first of: the upstream's first byte or the window passing (accepted), the app failing
        // (accepted: the app went away), the upstream failing (its refusal: a reset or an alert), or the upstream
        // ending before it said anything while the app still had its side open (a refusal too).
        const settle = (who: 'app' | 'upstream', err?: Error & { code?: string }) => {
          if (conn.settled) return;
          timer.cancel();
          leg.stream.removeListener('data', confirm);
          if (who === 'app') return conn.accept();
          conn.refuse(peer, serverRefusalReason(err), {
            peerId, upstream, detail: `${upstream} ${err ? `dropped the connection (${err.code ?? err.message})` : 'closed the connection'} after the handshake, before answering`,
          });
        };
        const confirm = () => settle('app');
        const windowMs = Math.min(this.opts.handshakeTimeoutMs, Math.max(REFUSAL_WINDOW_MIN_MS, 2 * handshakeMs));
        const timer = this.deps.dialer.clock.setTimeout(confirm, windowMs);
        let appEnded = false;
        app.once('error', () => settle('app'));
        app.once('end', () => { appEnded = true; });
        leg.stream.once('error', (err) => settle('upstream', err));
        leg.stream.once('end', () => settle(appEnded ? 'app' : 'upstream'));
        splice(plainLeg(app), leg, {
          idleTimeoutMs: this.opts.idleTimeoutMs,
          onEnd: (end) => {
            settle('app');
            conn.close();
            if (end.error || end.idle) reporter.log.debug({ peer, peerId, idle: end.idle, err: end.error?.message }, 'outbound connection ended abnormally');
          },
        });
        // After splice's own 'data' listener, so this one only watches the first chunk go by.
        leg.stream.once('data', confirm);
      },
      (err: DialError) => {
        app.removeListener('close', onClose);
        const upstream = `${target.upstream.host}:${target.upstream.port}`;
        if (err.code === REASONS.peerClosed && abort.signal.aborted) {
          reporter.log.debug({ peer, upstream }, 'app closed during the upstream handshake');
        } else if (err.code === REASONS.upstreamUnavailable || err.code === REASONS.peerClosed) {
          reporter.failed(peer, err.code, { peerId: err.peerId, detail: `${upstream}: ${err.message}` });
        } else {
          reporter.refused(peer, err.code, { peerId: err.peerId, detail: `${upstream}: ${err.message}` });
        }
        resetLeg(plainLeg(app));
      },
    );
  }

  private track(app: net.Socket): void {
    this.live.add(app);
    app.once('close', () => {
      this.live.delete(app);
      if (this.live.size === 0) {
        const waiters = this.idleWaiters;
        this.idleWaiters = [];
        for (const w of waiters) w();
      }
    });
  }
}

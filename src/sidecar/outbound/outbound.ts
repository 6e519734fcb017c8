// Outbound mTLS: takes plain TCP from the local app, dials the upstream with TLS 1.3 and the current SVID,
// checks the server's SPIFFE ID (not its hostname), and splices. TLS 1.3 sessions are resumed per upstream.
import type net from 'node:net';
import type { Clock } from '../../common/clock.js';
import type { AppSocketBuffers } from '../app-buffers.js';
import type { ConnectionSet } from '../connection-set.js';
import type { ConnectionReporter } from '../datapath-metrics.js';
import type { LivenessSweep } from '../liveness-sweep.js';
import { plainLeg, resetLeg, splice, withSharedReads, type Leg } from '../pipe.js';
import { REASONS, serverRefusalReason } from '../reasons.js';
import type { TlsContextHolder } from '../tls-context.js';
import type { DialError, UpstreamTarget, UpstreamTransport } from './transport.js';
import { formatHostPort, formatPeer } from '../../common/address.js';
import type { HandoffClient } from '../tunnel/handoff-client.js';

/**
 * An upstream refuses our certificate only after TLS 1.3's handshake has finished on our side. A connection is
 * counted as accepted once the upstream sends its first byte, or after twice the handshake time (at least this
 * long); a reset or an alert before that counts as the upstream's refusal.
 */
export const REFUSAL_WINDOW_MIN_MS = 500;

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
  /** The data path's shared read buffer, which accepted app sockets read into (shared-read.ts). */
  readBuffer?: Uint8Array;
  /** Watches tunnel streams for a handoff to a connection of their own (tunnel/handoff-client.ts). */
  handoffs?: Pick<HandoffClient, 'watch'>;
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
    const peer = (): string => (peerText ??= formatPeer(app.remoteAddress, app.remotePort));
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
    const appLeg = withSharedReads({ stream: app, tcp: app }, this.deps.readBuffer);
    const abort = new AbortController();
    const onClose = () => abort.abort();
    app.once('close', onClose);
    this.deps.transport.dial(target, this.opts.handshakeTimeoutMs, abort.signal).then(
      ({ leg, peerId, resumed, handshakeMs, accepted, handoff }) => {
        app.removeListener('close', onClose);
        if (app.destroyed) {
          resetLeg(leg);
          return;
        }
        const upstream = formatHostPort(target.upstream.host, target.upstream.port);
        const conn = reporter.pending();
        if (debug) reporter.log.debug({ peer: peer(), upstream, peerId, resumed, tunnel: leg.tcp === null }, 'outbound connection established');
        if (accepted) {
          // A tunnel stream is answered before any byte flows: it was accepted, or refused with a reason (the dial failed).
          conn.accept();
          let unwatch: (() => void) | undefined;
          const spliced = splice(appLeg, leg, {
            idleTimeoutMs: this.opts.idleTimeoutMs, clock: this.deps.clock, ...(this.deps.sweep ? { sweep: this.deps.sweep } : {}),
            onEnd: (end) => {
              unwatch?.();
              conn.close();
              if (debug && (end.error || end.idle)) reporter.log.debug({ peer: peer(), peerId, idle: end.idle, err: end.error?.message }, 'outbound connection ended abnormally');
            },
          });
          if (handoff && leg.tcp === null && this.deps.handoffs) {
            unwatch = this.deps.handoffs.watch({
              target, upstream, key: handoff.key, streamId: handoff.streamId, connectionStreams: handoff.connectionStreams, moved: handoff.moved,
              bytes: () => app.bytesRead + app.bytesWritten, timeoutMs: this.opts.handshakeTimeoutMs,
              handoff: (next) => spliced.handoff(leg, next),
            });
          }
          return;
        }
        // Settled by the first of: the upstream's first byte or the window passing (accepted), the app failing
        // (accepted: the app went away), the upstream failing (its refusal: a reset or an alert), or the upstream
        // ending before it said anything while the app still had its side open (a refusal too).
        const up: Leg = leg.tcp === null ? leg : withSharedReads(leg, this.deps.readBuffer);
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
        splice(appLeg, up, {
          idleTimeoutMs: this.opts.idleTimeoutMs, clock: this.deps.clock, ...(this.deps.sweep ? { sweep: this.deps.sweep } : {}),
          onEnd: (end) => {
            settle('app');
            conn.close();
            if (debug && (end.error || end.idle)) reporter.log.debug({ peer: peer(), peerId, idle: end.idle, err: end.error?.message }, 'outbound connection ended abnormally');
          },
        });
        // A leg reading into the shared buffer has no 'data' events; otherwise after splice's own 'data' listener, so
        // that this one only watches the first chunk go by.
        if (up.tcp !== null && up.reader) up.reader.onFirstRead(confirm);
        else leg.stream.once('data', confirm);
      },
      (err: DialError) => {
        app.removeListener('close', onClose);
        const upstream = formatHostPort(target.upstream.host, target.upstream.port);
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

// Transparent outbound (15001): each REDIRECTed app connection is sent to its original destination by the outbound
// decision (mesh/outbound-decision.ts): over mTLS through the data path's OutboundHandler, as plain TCP (passthrough,
// counted and listed), or refused (destination_not_meshed under registry-only). A meshed destination never gets plain.
import net from 'node:net';
import type { Clock } from '../../common/clock.js';
import type { Logger } from '../../common/logger.js';
import { NodeInternalsError } from '../../common/node-internals.js';
import type { ConnectionSet } from '../connection-set.js';
import type { ConnectionReporter } from '../datapath-metrics.js';
import type { OutboundHandler } from '../outbound/outbound.js';
import { plainLeg, resetLeg, splice } from '../pipe.js';
import { REASONS } from '../reasons.js';
import type { OutboundPolicy } from '../../mesh/kinds.js';
import { decideOutbound, type MembershipView } from '../../mesh/outbound-decision.js';
import type { MeshTraffic } from '../mesh/mesh-traffic.js';
import type { DestinationPolicy, OwnListeners } from './destinations.js';
import type { DialTracker } from './dial-tracker.js';
import { INTERCEPT_REASONS } from './intercept-reasons.js';
import { originalDst, type OriginalDst } from './original-dst.js';
import { formatHostPort, formatPeer } from '../../common/address.js';

/** Counters of plain passthrough connections, shown in /status as their own entry (passthrough never denies). */
export interface PassthroughCounters {
  connectionsActive: number;
  connectionsTotal: number;
  denied: number;
}

export interface TransparentOutboundDeps {
  handler: OutboundHandler;
  reporter: ConnectionReporter;
  destinations: DestinationPolicy;
  own: OwnListeners;
  dials: DialTracker;
  log: Logger;
  clock: Clock;
  idleTimeoutMs: number;
  /** Meshed and passthrough connections together. */
  maxConnections: number;
  /** The open passthrough connections, inside the data path's set. */
  passthroughConnections: ConnectionSet;
  /** What membership says of a destination (sidecar/mesh/sidecar-membership.ts). */
  membership: { view(address: string, port: number): MembershipView };
  /** transparent.outboundPolicy: what happens to a destination that is not meshed. */
  outboundPolicy: OutboundPolicy;
  /** Plain connections leaving the mesh: counted by reason, the most frequent destinations kept for /status. */
  traffic: MeshTraffic;
}

const hostPort = (d: OriginalDst) => formatHostPort(d.address, d.port);

/** Routes accepted (paused) sockets of the transparent outbound listener. */
export class TransparentOutbound {
  readonly passthrough: PassthroughCounters = { connectionsActive: 0, connectionsTotal: 0, denied: 0 };

  constructor(private readonly deps: TransparentOutboundDeps) {}

  /** Called synchronously from the 'connection' event: the original destination is read before anything else. */
  handle(app: net.Socket): void {
    const { reporter } = this.deps;
    const peer = formatPeer(app.remoteAddress, app.remotePort);
    app.on('error', () => {});
    // Our own upstream dial, REDIRECTed back to us (the sidecar does not run as --proxy-uid): refusing it
    // here is what keeps one app connection from becoming hundreds of nested ones.
    let ownDial: boolean;
    try {
      ownDial = this.deps.dials.isOwnDial(app.remoteAddress, app.remotePort);
    } catch (err) {
      reporter.refused(peer, REASONS.nodeInternalsChanged, { handshake: false, detail: (err as Error).message });
      return resetLeg(plainLeg(app));
    }
    if (ownDial) {
      reporter.refused(peer, INTERCEPT_REASONS.redirectLoop, {
        handshake: false,
        detail: 'this connection is one of our own upstream dials, redirected back to us: run the sidecar as the uid/gid given to `ztmesh iptables --proxy-uid`',
      });
      return resetLeg(plainLeg(app));
    }
    let dst: OriginalDst;
    try {
      dst = originalDst(app);
    } catch (err) {
      const reason = err instanceof NodeInternalsError ? REASONS.nodeInternalsChanged : INTERCEPT_REASONS.originalDstUnavailable;
      reporter.refused(peer, reason, { handshake: false, detail: (err as Error).message });
      return resetLeg(plainLeg(app));
    }
    if (this.deps.own.has(dst)) {
      reporter.refused(peer, INTERCEPT_REASONS.notRedirected, {
        handshake: false, detail: `original destination ${hostPort(dst)} is the sidecar's own listener (a direct connection, not a redirected one)`,
      });
      return resetLeg(plainLeg(app));
    }
    if (this.deps.handler.activeCount() + this.deps.passthroughConnections.size >= this.deps.maxConnections) {
      reporter.refused(peer, REASONS.maxConnections, { handshake: false, detail: hostPort(dst) });
      return resetLeg(plainLeg(app));
    }
    const decision = decideOutbound(this.deps.destinations.route(dst), () => this.deps.membership.view(dst.address, dst.port), this.deps.outboundPolicy);
    if (decision.action === 'plain') return this.passthroughTo(app, peer, dst, decision.because);
    if (decision.action === 'refuse') {
      reporter.refused(peer, decision.reason, {
        handshake: false, upstream: hostPort(dst), detail: `${hostPort(dst)} is not meshed and transparent.outboundPolicy is registry-only`,
      });
      return resetLeg(plainLeg(app));
    }
    this.deps.handler.handle(app, {
      upstream: { host: dst.address, port: dst.port },
      ...(decision.expect.length ? { expect: decision.expect } : {}),
    });
  }

  /** Plain TCP to a destination that is not meshed (configured so, or by membership under the passthrough policy). */
  private passthroughTo(app: net.Socket, peer: string, dst: OriginalDst, because: 'cidr' | 'port' | 'not_meshed'): void {
    const c = this.passthrough;
    c.connectionsTotal++;
    this.deps.traffic.passthrough(because, hostPort(dst));
    this.deps.passthroughConnections.track(app);
    const upstream = net.connect({ host: dst.address, port: dst.port, allowHalfOpen: true, noDelay: true });
    this.deps.dials.track(upstream);
    const onEarlyError = (err: Error) => {
      this.deps.reporter.failed(peer, REASONS.upstreamUnavailable, { detail: `passthrough ${hostPort(dst)}: ${(err as { code?: string }).code ?? err.message}` });
      resetLeg(plainLeg(app));
    };
    upstream.once('error', onEarlyError);
    const onAppClose = () => upstream.destroy();
    app.once('close', onAppClose);
    upstream.once('connect', () => {
      upstream.removeListener('error', onEarlyError);
      app.removeListener('close', onAppClose);
      c.connectionsActive++;
      this.deps.log.debug({ peer, upstream: hostPort(dst), mode: 'passthrough', because }, 'outbound passthrough (plain TCP, not meshed)');
      splice(plainLeg(app), plainLeg(upstream), { idleTimeoutMs: this.deps.idleTimeoutMs, clock: this.deps.clock, onEnd: () => { c.connectionsActive--; } });
    });
  }
}

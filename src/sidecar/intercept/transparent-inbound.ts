// Transparent inbound (15006): each REDIRECTed connection from the network is terminated with mTLS and
// authorized by the data path's InboundHandler, then forwarded to the app at its original port from 127.0.0.6.
import type net from 'node:net';
import { NodeInternalsError } from '../../common/node-internals.js';
import type { ConnectionReporter } from '../datapath-metrics.js';
import type { InboundHandler } from '../inbound/inbound.js';
import { plainLeg, resetLeg } from '../pipe.js';
import { REASONS } from '../reasons.js';
import type { TunnelTargets } from '../inbound/route.js';
import type { OwnListeners } from './destinations.js';
import { INTERCEPT_REASONS } from './intercept-reasons.js';
import { originalDst, type OriginalDst } from './original-dst.js';
import { formatHostPort, formatPeer } from '../../common/address.js';

export interface TransparentInboundDeps {
  handler: InboundHandler;
  reporter: ConnectionReporter;
  own: OwnListeners;
  /** Source of the forward to the app: 127.0.0.6 for IPv4, ::6 for IPv6 (both RETURNed by the OUTPUT rules). */
  sourceV4: string;
  sourceV6: string;
  /** Where tunnel streams arriving here may go: the pod's own addresses. */
  targets: TunnelTargets;
}

/** Routes accepted sockets of the transparent inbound listener. */
export class TransparentInbound {
  constructor(private readonly deps: TransparentInboundDeps) {}

  /** Called synchronously from the 'connection' event, before TLS touches the socket. */
  handle(raw: net.Socket): void {
    const peer = formatPeer(raw.remoteAddress, raw.remotePort);
    raw.on('error', () => {});
    let dst: OriginalDst;
    try {
      dst = originalDst(raw);
    } catch (err) {
      const reason = err instanceof NodeInternalsError ? REASONS.nodeInternalsChanged : INTERCEPT_REASONS.originalDstUnavailable;
      this.deps.reporter.refused(peer, reason, { handshake: false, detail: (err as Error).message });
      return resetLeg(plainLeg(raw));
    }
    if (this.deps.own.has(dst)) {
      // Forwarding to "the app at port 15006" would be forwarding to ourselves.
      this.deps.reporter.refused(peer, INTERCEPT_REASONS.notRedirected, {
        handshake: false, detail: `original destination ${formatHostPort(dst.address, dst.port)} is the sidecar's own listener`,
      });
      return resetLeg(plainLeg(raw));
    }
    // To the pod IP the app was dialled at (not 127.0.0.1): an app bound only to loopback stays unexposed.
    this.deps.handler.handle(raw, {
      forward: { host: dst.address, port: dst.port },
      localAddress: dst.family === 4 ? this.deps.sourceV4 : this.deps.sourceV6,
      targets: this.deps.targets,
    });
  }
}

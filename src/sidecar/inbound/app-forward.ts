// The inbound's forward to the local app, for an authorized raw mTLS connection and for an authorized tunnel stream
// alike: one dial with a deadline on the injected clock, the opening reported, the debug line, and the splice; and the
// set of forwards open now, which live revocation re-decides (inbound/inbound.ts) when the policy changes.
import net from 'node:net';
import type { Clock } from '../../common/clock.js';
import type { AppSocketBuffers } from '../app-buffers.js';
import type { ConnectionReporter } from '../datapath-metrics.js';
import type { LivenessSweep } from '../liveness-sweep.js';
import { plainLeg, resetLeg, splice, withSharedReads, type Leg, type SpliceHandle } from '../pipe.js';
import { REASONS } from '../reasons.js';
import type { InboundRoute } from './route.js';
import { SharedBufferReader } from '../shared-read.js';

export interface AppDial {
  /** Gives up on the dial (the peer went away first); neither callback runs after this. */
  cancel(): void;
}

export interface AppDialOptions {
  /** The app gets as long to accept as a peer gets to finish its handshake. */
  timeoutMs: number;
  clock: Clock;
  /** The data path's shared read buffer (shared-read.ts). */
  readBuffer?: Uint8Array;
  /** Sizes the connected socket's kernel buffers (app-buffers.ts). */
  buffers?: AppSocketBuffers;
}

/**
 * Dials the app at `route` (from its source address, if any). `connected` gets the socket, half-open, without Nagle
 * and with its kernel buffers sized; `failed` gets the error, an ETIMEDOUT one after `timeoutMs`. With `readBuffer`,
 * the socket reads into that shared buffer and comes paused, with the reader that forwards its bytes.
 */
export function dialApp(route: InboundRoute, opts: AppDialOptions, on: {
  connected(app: net.Socket, reader?: SharedBufferReader): void;
  failed(err: Error & { code?: string }): void;
}): AppDial {
  const { timeoutMs, clock, readBuffer } = opts;
  const { forward, localAddress } = route;
  const reader = readBuffer ? new SharedBufferReader(readBuffer) : undefined;
  const app = net.connect({
    host: forward.host, port: forward.port, allowHalfOpen: true, noDelay: true, ...(localAddress ? { localAddress } : {}),
    ...(reader ? { onread: reader.onread } : {}),
  });
  // Nothing is read before the splice names where the bytes go (SharedBufferReader.forwardTo resumes it).
  if (reader) app.pause();
  let done = false;
  const onError = (err: Error) => {
    if (done) return;
    done = true;
    timer.cancel();
    on.failed(err);
  };
  app.once('error', onError);
  const timer = clock.setTimeout(() => {
    app.destroy(Object.assign(new Error(`no connection to the app within ${timeoutMs} ms`), { code: 'ETIMEDOUT' }));
  }, timeoutMs);
  app.once('connect', () => {
    if (done) return;
    done = true;
    timer.cancel();
    app.removeListener('error', onError);
    opts.buffers?.apply(app);
    on.connected(app, reader);
  });
  return {
    cancel() {
      if (done) return;
      done = true;
      timer.cancel();
      app.on('error', () => {});
      app.destroy();
    },
  };
}

export interface AppForwarderDeps {
  clock: Clock;
  reporter: ConnectionReporter;
  /** The app gets as long to accept as a peer gets to finish its handshake. */
  dialTimeoutMs: number;
  idleTimeoutMs: number;
  /** The data path's shared read buffer, which connections to the app read into (shared-read.ts). */
  readBuffer?: Uint8Array;
  /** Sizes the kernel buffers of the sockets to the app (app-buffers.ts). */
  appBuffers?: AppSocketBuffers;
  /** Notices peers that left while their connection is paused (liveness-sweep.ts). */
  sweep?: LivenessSweep;
}

/** Who a forwarded connection comes from, as its log lines name it. */
export interface ForwardedPeer {
  peer: string;
  /** Undefined for a plaintext client of permissive mode, which has no identity (and says so in a line of its own). */
  peerId: string | undefined;
  resumed: boolean;
  /** A tunnel stream: the :authority it named. */
  target?: string | undefined;
}

/** Where a tunnel stream differs from a raw connection: it is answered, and its app socket is tracked for the drain. */
export interface StreamAnswer {
  /** The app took it: answer 200 before any byte flows. */
  accepted(app: net.Socket): void;
  /** The app could not be reached (already reported): answer 503. */
  unavailable(): void;
  /** The stream and the app are spliced (a handoff may now take the stream's place). */
  spliced?(splice: SpliceHandle): void;
}

/** One forward open now (spliced to the app): who it comes from, the workload port, and how to cut it. */
export interface LiveForward {
  readonly who: ForwardedPeer;
  /** The workload's port: the forward's (explicit mode), the original destination's (transparent mode). */
  readonly port: number;
  /** Resets both legs (the peer's and the app's); the splice then reports it closed. */
  cut(): void;
}

/**
 * The one forward to the app of an inbound listener. Invariants: a dial whose leg closes first is cancelled and
 * reported nowhere; otherwise each forward is reported once, as opened (and closed when its splice ends) or as failed
 * (forward_unavailable, the leg reset or the stream answered 503); no work per chunk beyond the splice's; a forward is
 * in `live()` exactly from its splice's start to its end.
 */
export class AppForwarder {
  private readonly dialOptions: AppDialOptions;
  private readonly open = new Set<LiveForward>();

  constructor(private readonly deps: AppForwarderDeps) {
    const { dialTimeoutMs, clock, readBuffer, appBuffers } = deps;
    this.dialOptions = { timeoutMs: dialTimeoutMs, clock, ...(readBuffer ? { readBuffer } : {}), ...(appBuffers ? { buffers: appBuffers } : {}) };
  }

  /** The forwards open now (a copy: cutting one while iterating is safe). */
  live(): LiveForward[] {
    return [...this.open];
  }

  /** Dials the app at `route` for `leg` and splices them; a tunnel stream passes how it is answered. */
  forward(leg: Leg, route: InboundRoute, who: ForwardedPeer, answer?: StreamAnswer): void {
    const { reporter } = this.deps;
    const onLegClose = () => dial.cancel();
    const dial = dialApp(route, this.dialOptions, {
      failed: (err) => {
        leg.stream.removeListener('close', onLegClose);
        reporter.failed(who.peer, REASONS.forwardUnavailable, { peerId: who.peerId, detail: err.code });
        if (answer) answer.unavailable();
        else resetLeg(leg);
      },
      connected: (app, reader) => {
        leg.stream.removeListener('close', onLegClose);
        if (leg.stream.closed || leg.stream.destroyed) {
          app.destroy();
          return;
        }
        answer?.accepted(app);
        const live: LiveForward = { who, port: route.forward.port, cut: () => { resetLeg(leg); resetLeg(plainLeg(app)); } };
        this.open.add(live);
        const closed = reporter.opened();
        if (who.peerId !== undefined) reporter.log.debug({ peer: who.peer, peerId: who.peerId, resumed: who.resumed, tunnel: answer ? true : undefined, target: who.target }, 'inbound connection forwarded');
        // A raw mTLS leg reads into the shared buffer too (a plaintext client of permissive mode is left as it is).
        const peerLeg = leg.tcp !== null && leg.stream !== leg.tcp ? withSharedReads(leg, this.deps.readBuffer) : leg;
        const handle = splice(peerLeg, plainLeg(app, reader), {
          idleTimeoutMs: this.deps.idleTimeoutMs, clock: this.deps.clock, ...(this.deps.sweep ? { sweep: this.deps.sweep } : {}),
          onEnd: (end) => {
            this.open.delete(live);
            closed();
            if (end.error || end.idle) {
              reporter.log.debug({ peer: who.peer, peerId: who.peerId, idle: end.idle, err: end.error?.message }, answer ? 'inbound tunnel stream ended abnormally' : 'inbound connection ended abnormally');
            }
          },
        });
        answer?.spliced?.(handle);
      },
    });
    leg.stream.once('close', onLegClose);
  }
}

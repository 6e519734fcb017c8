// Where an inbound connection goes once authorized: the app's address, and where the streams of a tunnel arriving on
// it may go. Types only, shared by the inbound, the forward to the app and the tunnel server (no import cycle).
import type { HostPort } from '../../common/address.js';

/** Where one accepted connection goes after authorization. */
export interface InboundRoute {
  forward: HostPort;
  /** Source address for the forward (transparent mode uses 127.0.0.6). */
  localAddress?: string;
  /** Where the streams of a tunnel arriving on this connection may go (tunnel/target.ts); without it, no tunnels. */
  targets?: TunnelTargets;
}

/** The decision for one stream: where it goes, or why not (the `detail` of a target_not_allowed refusal). */
export type StreamTarget = { ok: true; route: InboundRoute } | { ok: false; detail: string };

/** Resolves the :authority of a stream to the route the listener allows for it. Pure. */
export interface TunnelTargets {
  resolve(authority: string | undefined): StreamTarget;
}

// The outbound's transport contract: where to dial, what a verified upstream leg looks like, and the DialError every
// transport rejects with (a reason code of reasons.ts). UpstreamDialer and the tunnel pool both keep it.
import type { HostPort } from '../../common/address.js';
import { ProxyError } from '../../common/errors.js';
import type { SpiffePattern } from '../../pki/spiffe-id.js';
import type { Leg } from '../pipe.js';

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
  /** From the TCP dial to our side of the handshake finishing (or to the tunnel stream being answered). */
  handshakeMs: number;
  /** The upstream already took the connection (a tunnel stream answered 200): no refusal window to wait out. */
  accepted?: boolean;
  /** The server certificate's notAfter, when this dial or the full handshake its ticket descends from saw it. */
  peerNotAfterMs?: number;
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

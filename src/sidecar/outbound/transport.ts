// The outbound's transport contract: where to dial, what a verified upstream leg looks like, and the DialError every
// transport rejects with (a reason code of reasons.ts); and what a pool of tunnel connections offers the chooser.
import { formatHostPort, type HostPort } from '../../common/address.js';
import { ProxyError } from '../../common/errors.js';
import { expectationText, type ServerExpectation } from '../authz.js';
import type { Leg, SocketLeg } from '../pipe.js';

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
  /** A tunnel stream whose inbound takes handoffs (tunnel/handoff.ts): what asking for one takes. */
  handoff?: StreamHandoff;
}

/** A tunnel stream's handoff key, its id, its connection's open streams, and the pool's count of moved streams. */
export interface StreamHandoff {
  key: Buffer;
  streamId: number;
  connectionStreams(): number;
  moved(): void;
}

/** A ProxyError that also names the peer's SPIFFE ID when it was seen. */
export class DialError extends ProxyError {
  constructor(code: string, message: string, readonly peerId?: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

/** How the outbound reaches an upstream for one app connection and learns who answered (docs/design.md "Data flow"). */
export interface UpstreamTransport {
  /** Resolves with a verified leg, or rejects with a DialError whose code is a reason (reasons.ts). */
  dial(target: UpstreamTarget, handshakeTimeoutMs: number, signal?: AbortSignal): Promise<DialedUpstream>;
}

/** A verified mTLS connection from UpstreamDialer: a socket leg, and the ALPN protocol the server chose. */
export interface DialedSocket extends DialedUpstream {
  leg: SocketLeg;
  alpnProtocol: string | false;
}

/**
 * Why a pool of tunnel connections gives no stream: every connection to the upstream is full and it holds as many as
 * it may (`full`), or the upstream did not choose the tunnel (`no_tunnel`; the connection that found out, when this
 * stream opened it, comes back to be used as it is).
 */
export type NoStream = { noStream: 'full' } | { noStream: 'no_tunnel'; dialed: DialedSocket | undefined };

/** Streams over pooled connections (tunnel/client.ts), as the transport chooser uses them. */
export interface StreamPool {
  /** A stream to `target` on a pooled connection, or why there is none. */
  open(target: UpstreamTarget, handshakeTimeoutMs: number, signal?: AbortSignal): Promise<DialedUpstream | NoStream>;
}

/** The key of an upstream and the server ID expected there: one pool, and one transport choice, per key. */
export function upstreamKey(target: UpstreamTarget): string {
  return `${formatHostPort(target.upstream.host, target.upstream.port)} ${expectationText(target.expect) ?? ''}`;
}

// L4 splicing of two legs: bytes both ways through stream.pipe (no per-chunk JavaScript of ours),
// half-close in both directions, an error or RST on one leg resets the other, and an idle timeout.
import type http2 from 'node:http2';
import type net from 'node:net';
import type { Duplex } from 'node:stream';
import type { SharedBufferReader } from './shared-read.js';
import { H2_CODES } from './tunnel/protocol.js';

/** One side of a proxied connection over a socket: the stream bytes flow through (TLS or plain) and the TCP socket under it. */
export interface SocketLeg {
  stream: net.Socket;
  /** The socket that owns the TCP handle; resetAndDestroy() on it sends an RST. Same as stream for plain TCP. */
  tcp: net.Socket;
  /** A socket that reads into the shared buffer (its onread): its bytes go on through this rather than pipe(). */
  reader?: SharedBufferReader;
}

/** One side carried by a tunnel: an HTTP/2 CONNECT stream; its RST is an RST_STREAM (CONNECT_ERROR, RFC 9113 §8.5). */
export interface StreamLeg {
  stream: http2.Http2Stream;
  tcp: null;
}

export type Leg = SocketLeg | StreamLeg;

/** A plain TCP leg; `reader` when the socket was made with a SharedBufferReader's onread. */
export function plainLeg(socket: net.Socket, reader?: SharedBufferReader): Leg {
  return reader ? { stream: socket, tcp: socket, reader } : { stream: socket, tcp: socket };
}

/** How a spliced connection ended. */
export interface SpliceEnd {
  /** The first error seen on either leg (the other leg was reset because of it). */
  error?: Error;
  /** True when the idle timeout cut the connection. */
  idle?: boolean;
}

/** TLS legs whose TCP socket was reset and whose TLS socket must not be destroyed in the same tick. */
const resetting = new WeakSet<net.Socket>();

/**
 * Tears a leg down with an RST where the platform allows it, else a plain close.
 * For a TLS leg only the TCP socket is reset: node 20 crashes (SIGSEGV) when a TLSSocket is destroyed in the
 * same tick as a resetAndDestroy() of the socket under it. The TLS socket closes by itself; a later tick
 * destroys it if it has not.
 */
export function resetLeg(leg: Leg): void {
  if (leg.tcp === null) {
    if (!leg.stream.closed && !leg.stream.destroyed) leg.stream.close(H2_CODES.connectError);
    return;
  }
  const tcp = leg.tcp as net.Socket & { resetAndDestroy?: () => net.Socket };
  if (leg.stream === tcp) {
    if (tcp.destroyed) return;
    if (typeof tcp.resetAndDestroy === 'function' && !tcp.connecting) {
      try {
        tcp.resetAndDestroy();
        return;
      } catch {
        // not a TCP handle: fall through to a plain close
      }
    }
    tcp.destroy();
    return;
  }
  if (resetting.has(leg.stream)) return;
  if (leg.stream.destroyed || tcp.destroyed || tcp.connecting || typeof tcp.resetAndDestroy !== 'function') {
    leg.stream.destroy();
    return;
  }
  resetting.add(leg.stream);
  try {
    tcp.resetAndDestroy();
  } catch {
    tcp.destroy();
  }
  setImmediate(() => {
    if (!leg.stream.destroyed) leg.stream.destroy();
  });
}

/** Closes a leg without an RST (idle timeout, drain), unless it is already being reset. */
export function closeLeg(leg: Leg): void {
  if (leg.tcp === null) {
    if (!leg.stream.closed && !leg.stream.destroyed) leg.stream.close(H2_CODES.noError);
    return;
  }
  if (resetting.has(leg.stream) || leg.stream.destroyed) return;
  leg.stream.destroy();
}

/** A tunnel stream the peer closed with RST_STREAM(NO_ERROR): stopped, not failed (its idle timeout, its drain). */
function closedQuietly(leg: Leg): boolean {
  return leg.tcp === null && leg.stream.rstCode === H2_CODES.noError;
}

/**
 * Connects a and b both ways until both sides are done. Both legs must have allowHalfOpen set.
 * `onEnd` runs once when both legs are closed.
 */
export function splice(a: Leg, b: Leg, opts: { idleTimeoutMs: number; onEnd: (end: SpliceEnd) => void }): void {
  let closed = 0;
  const end: SpliceEnd = {};
  const fail = (from: Leg, other: Leg, err: Error) => {
    if (end.error || end.idle) return;
    end.error = err;
    resetLeg(other);
    closeLeg(from);
  };
  const wire = (self: Leg, other: Leg) => {
    self.stream.on('error', (err) => fail(self, other, err));
    self.stream.on('close', () => {
      // Closed without its readable side ending (destroyed by us or torn down): the other leg cannot finish either.
      if (!self.stream.readableEnded && !other.stream.destroyed) {
        if (end.error || end.idle || closedQuietly(self)) closeLeg(other);
        else resetLeg(other);
      }
      if (++closed === 2) opts.onEnd(end);
    });
    if (opts.idleTimeoutMs > 0) {
      self.stream.setTimeout(opts.idleTimeoutMs, () => {
        if (end.error || end.idle) return;
        end.idle = true;
        closeLeg(self);
        closeLeg(other);
      });
    }
    if (self.tcp === null) {
      // Tunnel streams are opened with waitForTrailers: our END_STREAM is an (empty) trailers frame, so that a reset
      // (close(CONNECT_ERROR)) goes out alone, never after an END_STREAM that the peer would take for a FIN.
      const stream = self.stream;
      stream.on('wantTrailers', () => stream.sendTrailers({}));
    }
    if (self.tcp !== null && self.reader) self.reader.forwardTo(self.stream, other.stream);
    else (self.stream as Duplex).pipe(other.stream as Duplex);
  };
  wire(a, b);
  wire(b, a);
}

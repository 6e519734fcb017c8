// L4 splicing of two legs: bytes both ways through stream.pipe (no per-chunk JavaScript of ours),
// half-close in both directions, an error or RST on one leg resets the other, and an idle timeout.
import type net from 'node:net';

/** One side of a proxied connection: the stream bytes flow through (TLS or plain) and the TCP socket under it. */
export interface Leg {
  stream: net.Socket;
  /** The socket that owns the TCP handle; resetAndDestroy() on it sends an RST. Same as stream for plain TCP. */
  tcp: net.Socket;
}

/** A plain TCP leg. */
export function plainLeg(socket: net.Socket): Leg {
  return { stream: socket, tcp: socket };
}

/** How a spliced connection ended. */
export interface SpliceEnd {
  /** The first error seen on either leg (the other leg was reset because of it). */
  error?: Error;
  /** True when the idle timeout cut the connection. */
  idle?: boolean;
}

/** Tears a leg down with an RST where the platform allows it, else a plain close. */
export function resetLeg(leg: Leg): void {
  const tcp = leg.tcp as net.Socket & { resetAndDestroy?: () => net.Socket };
  if (!tcp.destroyed && typeof tcp.resetAndDestroy === 'function') {
    try {
      tcp.resetAndDestroy();
    } catch {
      tcp.destroy();
    }
  } else {
    tcp.destroy();
  }
  if (leg.stream !== tcp) leg.stream.destroy();
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
    from.stream.destroy();
  };
  const wire = (self: Leg, other: Leg) => {
    self.stream.on('error', (err) => fail(self, other, err));
    self.stream.on('close', () => {
      // Closed without its readable side ending (destroyed by us or torn down): the other leg cannot finish either.
      if (!self.stream.readableEnded && !other.stream.destroyed) {
        if (end.error || end.idle) other.stream.destroy();
        else resetLeg(other);
      }
      if (++closed === 2) opts.onEnd(end);
    });
    if (opts.idleTimeoutMs > 0) {
      self.stream.setTimeout(opts.idleTimeoutMs, () => {
        if (end.error || end.idle) return;
        end.idle = true;
        self.stream.destroy();
        other.stream.destroy();
      });
    }
    self.stream.pipe(other.stream);
  };
  wire(a, b);
  wire(b, a);
}

// L4 splicing of two legs: bytes both ways through stream.pipe (no per-chunk JavaScript of ours),
// half-close in both directions, an error or RST on one leg resets the other, and an idle timeout.
// Invariants: no timer of a splice outlives it (the idle check runs on the injected clock and stops when both legs
// have closed); a leg closed abnormally drops what it still buffers at once; a paused leg is watched for its peer leaving.
import type http2 from 'node:http2';
import type net from 'node:net';
import type { Duplex, Readable } from 'node:stream';
import type { Clock } from '../common/clock.js';
import { closeSocket, resetSocket } from '../common/socket-reset.js';
import type { LivenessSweep } from './liveness-sweep.js';
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

/**
 * Tears a leg down: a tunnel stream with RST_STREAM(CONNECT_ERROR), a socket leg with an RST (common/socket-reset.ts).
 */
export function resetLeg(leg: Leg): void {
  if (leg.tcp === null) {
    if (!leg.stream.closed && !leg.stream.destroyed) leg.stream.close(H2_CODES.connectError);
    return;
  }
  resetSocket(leg.stream, leg.tcp);
}

/** Closes a leg without an RST (idle timeout, drain), unless it is already being reset. */
export function closeLeg(leg: Leg): void {
  if (leg.tcp === null) {
    if (!leg.stream.closed && !leg.stream.destroyed) leg.stream.close(H2_CODES.noError);
    return;
  }
  closeSocket(leg.stream);
}

/** A tunnel stream that an RST_STREAM closed (any code, sent or received) rather than END_STREAM both ways. */
function cutShort(leg: Leg): boolean {
  if (leg.tcp !== null) return false;
  const code = leg.stream.rstCode;
  return leg.stream.aborted || (code !== undefined && code !== H2_CODES.noError);
}

/** A tunnel stream the peer closed with RST_STREAM(NO_ERROR): stopped, not failed (its idle timeout, its drain). */
function closedQuietly(leg: Leg): boolean {
  return leg.tcp === null && leg.stream.rstCode === H2_CODES.noError;
}

/** Idle checks per idle timeout: a connection is closed between idleTimeout and idleTimeout × 1.25 after its last byte. */
const IDLE_CHECKS = 4;

/**
 * A paused leg whose peer has shut down its side (its FIN waits behind bytes the other side has not taken): if nothing
 * moves for this long, the connection is closed as idle, however long its idleTimeout.
 */
export const PAUSED_AFTER_FIN_MS = 30_000;

export interface SpliceOptions {
  /** No byte either way for this long closes both legs (0: never). */
  idleTimeoutMs: number;
  clock: Clock;
  /** Watches a socket leg while backpressure pauses it, so that its peer leaving is noticed (liveness-sweep.ts). */
  sweep?: LivenessSweep;
  /** Runs once, when both legs are closed. */
  onEnd: (end: SpliceEnd) => void;
}

/**
 * Connects a and b both ways until both sides are done. Both legs must have allowHalfOpen set.
 * `onEnd` runs once when both legs are closed.
 */
export function splice(a: Leg, b: Leg, opts: SpliceOptions): void {
  let closed = 0;
  const end: SpliceEnd = {};
  const fail = (from: Leg, other: Leg, err: Error) => {
    if (end.error || end.idle) return;
    end.error = err;
    resetLeg(other);
    closeLeg(from);
  };
  const idle = opts.idleTimeoutMs > 0
    ? watchIdle([a, b], opts.clock, opts.idleTimeoutMs, () => {
      if (end.error || end.idle) return;
      end.idle = true;
      closeLeg(a);
      closeLeg(b);
    })
    : undefined;
  const wire = (self: Leg, other: Leg) => {
    const unwatch = self.tcp !== null && opts.sweep ? watchWhilePaused(self, opts.sweep, {
      gone: () => fail(self, other, Object.assign(new Error('the peer left while its connection was paused'), { code: 'ECONNRESET' })),
      fin: () => idle?.shorten(PAUSED_AFTER_FIN_MS),
    }) : undefined;
    self.stream.on('error', (err) => fail(self, other, err));
    self.stream.on('close', () => {
      unwatch?.();
      // Closed without its readable side ending (destroyed by us or torn down), or a stream reset before it finished
      // (node ends the readable side cleanly on an RST_STREAM with NO_ERROR or CANCEL): the other leg cannot finish either.
      if (!self.stream.readableEnded || cutShort(self)) {
        dropBuffered(self.stream);
        if (!other.stream.destroyed) {
          if (end.error || end.idle || closedQuietly(self)) closeLeg(other);
          else resetLeg(other);
        }
      }
      if (++closed === 2) {
        idle?.cancel();
        opts.onEnd(end);
      }
    });
    if (self.tcp === null) {
      // Tunnel streams are opened with waitForTrailers: our END_STREAM is an (empty) trailers frame, so that a reset
      // (close(CONNECT_ERROR)) goes out alone, never after an END_STREAM that the peer would take for a FIN.
      const stream = self.stream;
      stream.on('wantTrailers', () => stream.sendTrailers({}));
    }
    if (self.tcp !== null && self.reader) self.reader.forwardTo(self.stream, other.stream);
    else if (self.tcp === null) {
      // Node ends a reset stream's readable side as if END_STREAM had come: only a real one becomes the other's FIN.
      self.stream.pipe(other.stream as Duplex, { end: false });
      self.stream.once('end', () => { if (!cutShort(self)) other.stream.end(); });
    } else (self.stream as Duplex).pipe(other.stream as Duplex);
  };
  wire(a, b);
  wire(b, a);
}

/** What a leg closed abnormally still buffers (a reset stream's unread DATA) is let go now, not when it is collected. */
function dropBuffered(stream: Readable): void {
  if (stream.readableLength === 0) return;
  try {
    while (stream.read() !== null);
  } catch {
    // nothing left to read
  }
}

/**
 * Calls `onIdle` once no byte has moved through the socket legs for `limitMs`, checked IDLE_CHECKS times per limit on
 * the injected clock. Every byte of a splice crosses a socket leg (the app's side is always one), and node counts them
 * there, so nothing runs per chunk.
 */
function watchIdle(legs: Leg[], clock: Clock, limitMs: number, onIdle: () => void): { shorten(ms: number): void; cancel(): void } {
  const sockets = legs.flatMap((l) => (l.tcp === null ? [] : [l.stream]));
  const moved = () => sockets.reduce((n, s) => n + (s.bytesRead ?? 0) + (s.bytesWritten ?? 0), 0);
  let last = moved();
  let quietSinceMs = clock.now();
  let limit = limitMs;
  let timer = clock.setTimeout(check, step());
  function step(): number {
    return Math.max(1, Math.ceil(limit / IDLE_CHECKS));
  }
  function check(): void {
    const now = moved();
    // Bytes moved since the last check: the connection was busy at some point up to now.
    if (now !== last) {
      last = now;
      quietSinceMs = clock.now();
    }
    if (clock.now() - quietSinceMs >= limit) return onIdle();
    timer = clock.setTimeout(check, step());
  }
  return {
    shorten(ms) {
      if (ms >= limit) return;
      limit = ms;
      timer.cancel();
      timer = clock.setTimeout(check, step());
    },
    cancel: () => timer.cancel(),
  };
}

/**
 * Watches a socket leg's TCP socket while backpressure pauses it: the sweep reads the kernel's view, since nothing is
 * read from the socket then. Returns the function that stops watching.
 */
function watchWhilePaused(leg: SocketLeg, sweep: LivenessSweep, on: { gone(): void; fin(): void }): () => void {
  let unwatch: (() => void) | undefined;
  const stop = () => {
    unwatch?.();
    unwatch = undefined;
  };
  leg.stream.on('pause', () => {
    if (unwatch || leg.stream.destroyed) return;
    unwatch = sweep.watch({ socket: leg.tcp, onDeparture: (d) => (d === 'fin' ? on.fin() : on.gone()) });
  });
  leg.stream.on('resume', stop);
  return stop;
}

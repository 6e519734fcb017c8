// L4 splicing of two legs: bytes both ways (socket legs through the shared-buffer byte path of shared-read.ts, tunnel
// streams through stream.pipe), half-close in both directions, an error or RST on one leg resets the other, an idle
// timeout, and the handoff of a tunnel stream's place to a socket leg of its own (tunnel/handoff.ts).
// Invariants: no timer of a splice outlives it (the idle check runs on the injected clock and stops when every leg
// has closed); a leg closed abnormally drops what it still buffers at once; a paused leg is watched for its peer
// leaving; each direction's FIN is passed on once, and only a real one (a tunnel stream's END_STREAM, a socket's end
// that the kernel does not call a reset); across a handoff no byte is lost or reordered (the old leg carries a
// direction until it ends with the moved marker, the new leg only after that).
import type http2 from 'node:http2';
import type net from 'node:net';
import type { Duplex, Readable, Writable } from 'node:stream';
import type { Clock } from '../common/clock.js';
import { closeSocket, resetSocket } from '../common/socket-reset.js';
import { endedByReset } from '../common/tcp-state.js';
import type { LivenessSweep } from './liveness-sweep.js';
import { SharedBufferReader } from './shared-read.js';
import { H2_CODES, MOVED_TRAILER } from './tunnel/protocol.js';

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

/**
 * The socket leg, reading into the data path's shared buffer (shared-read.ts) from now on; as it was without a
 * buffer, when it has a reader already, or where node offers no way to (node-internals.test.ts fails on such a node).
 * Call it before the leg's socket is read by anything else (paused since accept, or a TLS socket after its handshake).
 */
export function withSharedReads(leg: SocketLeg, buffer: Uint8Array | undefined): SocketLeg {
  if (!buffer || leg.reader || leg.stream.destroyed) return leg;
  try {
    return { ...leg, reader: SharedBufferReader.attach(leg.stream, buffer) };
  } catch {
    return leg;
  }
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
  /** Runs once, when every leg is closed. */
  onEnd: (end: SpliceEnd) => void;
}

/** A running splice. */
export interface SpliceHandle {
  /**
   * `next` takes the place of `old`, the leg of a tunnel stream of this splice (tunnel/handoff.ts): what the other leg sends
   * from now on goes into `next`, and `old` ends with the moved marker (or as it was, if that side had ended);
   * what comes from the peer keeps coming from `old` until it ends with the marker, then from `next`. False (and
   * nothing done) once the splice is failing, idle or ending, or `old` closed other than with the peer's marker: the
   * caller closes `next` then.
   */
  handoff(old: StreamLeg, next: SocketLeg): boolean;
}

/**
 * Connects a and b both ways until both sides are done. Both legs must have allowHalfOpen set.
 * `onEnd` runs once when every leg is closed (a and b, and the leg a handoff brought in).
 */
export function splice(a: Leg, b: Leg, opts: SpliceOptions): SpliceHandle {
  return new Splice(a, b, opts);
}

class Splice implements SpliceHandle {
  private readonly legs: Leg[] = [];
  private closed = 0;
  private readonly end: SpliceEnd = {};
  private readonly idle: { shorten(ms: number): void; cancel(): void } | undefined;
  /** The tunnel stream being replaced by a socket leg, once handoff() was called. */
  private moving: { old: StreamLeg; next: SocketLeg } | undefined;
  /** Our side of the tunnel stream ends with the moved marker (its trailers), not as a FIN. */
  private movedOut = false;
  /** The peer's side of the tunnel stream ended with the moved marker: its bytes go on in the handoff's leg... */
  private movedIn = false;
  /** ...to this leg, once there is a handoff's leg (the marker may arrive before our handoff() call). */
  private pendingIn: Leg | undefined;
  /** The peer's side of the tunnel stream ended with a FIN (passed on): the handoff's leg brings nothing but its own. */
  private finIn = false;

  constructor(a: Leg, b: Leg, private readonly opts: SpliceOptions) {
    this.idle = opts.idleTimeoutMs > 0
      ? watchIdle(() => this.legs, opts.clock, opts.idleTimeoutMs, () => {
        if (this.end.error || this.end.idle) return;
        this.end.idle = true;
        for (const l of this.legs) closeLeg(l);
      })
      : undefined;
    this.watch(a);
    this.watch(b);
    this.flow(a, b);
    this.flow(b, a);
  }

  handoff(old: StreamLeg, next: SocketLeg): boolean {
    const own = this.legs.find((l) => l.tcp === null && l.stream === old.stream) as StreamLeg | undefined;
    if (this.end.error || this.end.idle || this.moving || !own) return false;
    old = own;
    const app = this.legs.find((l) => l !== old)!;
    // The stream may have closed already, if only because both its sides ended: the app's FIN, and the peer's moved
    // marker (the peer's bytes go on in `next`).
    if (app.stream.destroyed || ((old.stream.closed || old.stream.destroyed) && !this.movedIn) || cutShort(old)) return false;
    this.moving = { old, next };
    this.watch(next);
    // What the app sends from now on goes into `next`; `old` gets an END_STREAM that says "moved", after what it has.
    // The app's FIN went into `old` already: `next` carries only the peer's bytes, and our FIN on it waits for the
    // peer's (a TLS socket ended before it read what the peer sent has OpenSSL's shutdown discard the records it holds).
    if (app.stream.readableEnded) next.stream.once('end', () => next.stream.end());
    else {
      if (app.tcp !== null && app.reader) app.reader.redirect(next.stream);
      else {
        app.stream.unpipe(old.stream as Writable);
        app.stream.pipe(next.stream);
      }
      this.movedOut = true;
      old.stream.end();
    }
    if (this.pendingIn) this.flow(next, this.pendingIn);
    else if (this.finIn) next.stream.resume();
    return true;
  }

  private fail(from: Leg, err: Error): void {
    if (this.end.error || this.end.idle) return;
    this.end.error = err;
    for (const l of this.legs) if (l !== from) resetLeg(l);
    closeLeg(from);
  }

  /** A leg's errors, its close, the sweep's watch while it is paused, and a tunnel stream's trailers. */
  private watch(self: Leg): void {
    this.legs.push(self);
    const unwatch = self.tcp !== null && this.opts.sweep ? watchWhilePaused(self, this.opts.sweep, {
      gone: () => this.fail(self, Object.assign(new Error('the peer left while its connection was paused'), { code: 'ECONNRESET' })),
      fin: () => this.idle?.shorten(PAUSED_AFTER_FIN_MS),
    }) : undefined;
    self.stream.on('error', (err) => this.fail(self, err));
    self.stream.on('close', () => {
      unwatch?.();
      // Closed without its readable side ending (destroyed by us or torn down), or a stream reset before it finished
      // (node ends the readable side cleanly on an RST_STREAM with NO_ERROR or CANCEL): the others cannot finish either.
      if (!self.stream.readableEnded || cutShort(self)) {
        dropBuffered(self.stream);
        for (const other of this.legs) {
          if (other === self || other.stream.destroyed) continue;
          if (this.end.error || this.end.idle || closedQuietly(self)) closeLeg(other);
          else resetLeg(other);
        }
      }
      if (++this.closed === this.legs.length) {
        this.idle?.cancel();
        this.opts.onEnd(this.end);
      }
    });
    if (self.tcp === null) {
      // Tunnel streams are opened with waitForTrailers: our END_STREAM is a trailers frame (empty, or the moved
      // marker of a handoff), so that a reset (close(CONNECT_ERROR)) goes out alone, never after an END_STREAM that
      // the peer would take for a FIN.
      const stream = self.stream;
      stream.on('wantTrailers', () => stream.sendTrailers(this.movedOut ? { [MOVED_TRAILER]: '1' } : {}));
      stream.on('trailers', (headers: Record<string, unknown>) => {
        if (headers[MOVED_TRAILER] === '1') this.movedIn = true;
      });
    }
  }

  /** Bytes from one leg into another. */
  private flow(from: Leg, to: Leg): void {
    if (from.tcp !== null) {
      const ended = (dest: Writable) => this.socketEnded(from, dest);
      if (from.reader) from.reader.forwardTo(from.stream, to.stream, ended);
      else {
        from.stream.pipe(to.stream as Duplex, { end: false });
        from.stream.once('end', () => ended(to.stream as Writable));
      }
    } else {
      // Node ends a reset stream's readable side as if END_STREAM had come: only a real one becomes the other's FIN,
      // and one with the moved marker hands what follows to the handoff's leg.
      from.stream.pipe(to.stream as Duplex, { end: false });
      from.stream.once('end', () => {
        if (cutShort(from)) return;
        if (this.movedIn) {
          if (this.moving) this.flow(this.moving.next, to);
          else this.pendingIn = to;
          return;
        }
        to.stream.end();
        this.finIn = true;
        this.moving?.next.stream.resume(); // nothing comes on it after a FIN, but its own FIN must be read
      });
    }
  }

  /**
   * A socket leg's input ended, every byte before the end passed on: its FIN goes on to `dest`, unless the connection
   * was reset. Node reports some resets as an end (common/tcp-state.ts): passed on as a FIN, a cut connection would
   * look complete to the app before the reset followed.
   */
  private socketEnded(from: SocketLeg, dest: Writable): void {
    if (endedByReset(from.stream, from.tcp)) {
      this.fail(from, Object.assign(new Error('the peer reset the connection (read as its end)'), { code: 'ECONNRESET' }));
      return;
    }
    dest.end();
  }
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
function watchIdle(legs: () => readonly Leg[], clock: Clock, limitMs: number, onIdle: () => void): { shorten(ms: number): void; cancel(): void } {
  const moved = () => legs().reduce((n, l) => (l.tcp === null ? n : n + (l.stream.bytesRead ?? 0) + (l.stream.bytesWritten ?? 0)), 0);
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

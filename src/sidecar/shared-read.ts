// The byte path of socket legs: the sockets between the sidecar and its apps and the raw mTLS sockets read into one
// buffer shared by the whole process (node's `onread`), and each read is handed on at once, with no allocation and no
// stream machinery in between (docs/datapath.md "The byte path"):
// - to a TLS socket with nothing queued, as a view (TLSWrap encrypts it before write() returns);
// - to a plain socket with nothing queued, with one write(2) of the view on its descriptor; what the kernel does not
//   take at once is copied into node's queue;
// - to anything else (a queue in front of it, an HTTP/2 stream), as a copy.
// Invariants: nothing refers to the shared buffer once a read's callback returns; dest gets the source's bytes in
// order (a write(2) of our own happens only while node has nothing queued for dest, and never on a destroyed socket,
// whose descriptor may already belong to another); dest.bytesWritten misses what write(2) took, the source's bytesRead
// counts it (the idle check of pipe.ts adds both); backpressure pauses the source with pause() (its 'pause' event
// lets the liveness sweep watch it) until dest drains.
import { writeSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import type { Writable } from 'node:stream';
import { readInto, socketFd } from '../common/node-internals.js';

/** The size of the shared read buffer: a read takes at most this much, as node's own reads do. */
export const SHARED_READ_BYTES = 64 * 1024;

/** What net.connect's `onread` option takes. */
export interface OnRead {
  buffer: () => Uint8Array;
  callback: (bytes: number, buffer: Uint8Array) => boolean;
}

/** The buffer a data path's SharedBufferReaders share (one per process, made by the data path's composition root). */
export function sharedReadBuffer(): Uint8Array {
  return new Uint8Array(SHARED_READ_BYTES);
}

/** How a chunk reaches dest without a copy, if it can: encrypted at once (TLS), or written with write(2) (plain). */
type DestKind = 'tls' | 'plain' | 'other';

function destKind(dest: Writable): DestKind {
  if (dest instanceof tls.TLSSocket) return 'tls';
  return dest instanceof net.Socket ? 'plain' : 'other';
}

/**
 * One socket's reads, forwarded into `dest` once `forwardTo` names it. Made before a dialed socket (its `onread` goes
 * into net.connect), or attached to one that exists (attach); the socket reads nothing until forwardTo.
 */
export class SharedBufferReader {
  private dest: Writable | undefined;
  private kind: DestKind = 'other';
  private source: net.Socket | undefined;
  /** The source is paused until dest drains (reads that were already under way still arrive, and are queued). */
  private waiting = false;
  /** Reads that arrived before forwardTo (a socket that was reading when attached): copies, they go first. */
  private early: Buffer[] | undefined;
  /** Called once, before the first byte read into the shared buffer is handed on (there is no 'data' event). */
  private firstRead: (() => void) | undefined;
  readonly onread: OnRead;

  constructor(buffer: Uint8Array) {
    this.onread = { buffer: () => buffer, callback: (n, buf) => this.forward(n, buf) };
  }

  /**
   * A reader for a socket that exists already: an accepted one (pauseOnConnect), or a TLS socket after its handshake,
   * whose reads until now stay in its readable buffer and go first. Throws NodeInternalsError where node offers no way
   * to (the caller reads the usual way then).
   */
  static attach(socket: net.Socket, buffer: Uint8Array): SharedBufferReader {
    const reader = new SharedBufferReader(buffer);
    readInto(socket, buffer, reader.onread.callback);
    reader.source = socket;
    socket.pause(); // a socket that was reading stops until forwardTo
    return reader;
  }

  /** Runs `fn` once, when the first byte read into the shared buffer arrives (a leg with a reader emits no 'data'). */
  onFirstRead(fn: () => void): void {
    this.firstRead = fn;
  }

  /**
   * Starts forwarding `source`'s bytes into `dest`, with backpressure; once the source's input ends, `ended` gets the
   * destination then in force (redirect() may have changed it), after every byte before the end (default: ends it,
   * as pipe does).
   */
  forwardTo(source: net.Socket, dest: Writable, ended: (dest: Writable) => void = (d) => d.end()): void {
    this.source = source;
    this.dest = dest;
    this.kind = destKind(dest);
    // What the socket read before it read into the shared buffer (a TLS socket's first bytes) is its own: it goes first,
    // then what the reader kept of reads under way when it was attached.
    for (let chunk = source.read() as Buffer | null; chunk !== null; chunk = source.read() as Buffer | null) this.queue(dest, chunk);
    for (const chunk of this.early?.splice(0) ?? []) this.queue(dest, chunk);
    // A peer that sent its FIN before we got here (a client that connects and closes at once): its 'end' is past.
    if (source.readableEnded) {
      ended(dest);
      return;
    }
    source.once('end', () => {
      if (this.dest) ended(this.dest);
    });
    if (!this.waiting) source.resume();
  }

  /** From now on the source's bytes go into `dest` (a handoff, pipe.ts); the old destination keeps what it was given. */
  redirect(dest: Writable): void {
    this.dest?.removeListener('drain', this.resume);
    this.dest = dest;
    this.kind = destKind(dest);
    if (this.waiting) this.resume();
  }

  private readonly resume = (): void => {
    this.waiting = false;
    if (this.source && !this.source.destroyed) this.source.resume();
  };

  private forward(n: number, buf: Uint8Array): boolean {
    const dest = this.dest;
    if (!dest) {
      (this.early ??= []).push(Buffer.from(buf.subarray(0, n)));
      this.source?.pause();
      return true;
    }
    if (dest.destroyed || dest.writableEnded) return false;
    if (this.firstRead) {
      const fn = this.firstRead;
      this.firstRead = undefined;
      fn();
    }
    const view = Buffer.from(buf.buffer, buf.byteOffset, n);
    if (this.kind !== 'other' && !this.waiting && dest.writableLength === 0 && !dest.writableCorked) {
      if (this.kind === 'tls') this.accept(dest.write(view));
      else this.writeDirect(dest as net.Socket, view);
    } else {
      // A chunk that waits in dest's queue must not be the shared buffer, which the next read overwrites.
      this.queue(dest, Buffer.from(view));
    }
    return true;
  }

  /** One write(2) of the view while node has nothing queued for dest; the rest, if any, is copied into its queue. */
  private writeDirect(dest: net.Socket, view: Buffer): void {
    const fd = socketFd(dest);
    let written = 0;
    if (fd >= 0) {
      try {
        written = writeSync(fd, view);
      } catch (err) {
        // EAGAIN: the kernel's buffer is full, node's queue takes it all. Anything else is the socket failing, as
        // node's own write would report it.
        if ((err as { code?: string }).code !== 'EAGAIN') {
          dest.destroy(err as Error);
          return;
        }
      }
    }
    if (written < view.length) this.queue(dest, Buffer.from(view.subarray(written)));
  }

  /** Writes a chunk of its own into dest's queue; pauses the source while dest is over its high-water mark. */
  private queue(dest: Writable, chunk: Buffer): void {
    this.accept(dest.write(chunk));
  }

  private accept(fits: boolean): void {
    if (fits || this.waiting) return;
    this.waiting = true;
    this.source?.pause();
    this.dest?.once('drain', this.resume);
  }
}

// Reads of the plain sockets the sidecar dials (the inbound's connection to the app), through one buffer shared by every
// such socket (node's `onread`): no 64 KiB allocation per read. Each chunk is handed on at once: to a TLS socket that
// has nothing queued, as a view (TLSWrap encrypts or copies it before write() returns); to anything else, as a copy.
import type net from 'node:net';
import tls from 'node:tls';
import type { Writable } from 'node:stream';

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

/**
 * One dialed socket's reads, forwarded into `dest` once `forwardTo` names it. Made before the socket (its `onread`
 * goes into net.connect); the socket is paused until then, so nothing it reads can arrive before there is a `dest`.
 */
export class SharedBufferReader {
  private dest: Writable | undefined;
  /** True when dest copies a chunk before write() returns, if nothing is queued before it (a TLS socket). */
  private copiesOnWrite = false;
  private source: net.Socket | undefined;
  readonly onread: OnRead;

  constructor(buffer: Uint8Array) {
    this.onread = { buffer: () => buffer, callback: (n, buf) => this.forward(n, buf) };
  }

  /** Starts forwarding `source`'s bytes into `dest`, with backpressure and `dest.end()` on the source's FIN (as pipe does). */
  forwardTo(source: net.Socket, dest: Writable): void {
    this.source = source;
    this.dest = dest;
    this.copiesOnWrite = dest instanceof tls.TLSSocket;
    source.once('end', () => dest.end());
    source.resume();
  }

  private readonly resume = (): void => {
    if (this.source && !this.source.destroyed) this.source.resume();
  };

  private forward(n: number, buf: Uint8Array): boolean {
    const dest = this.dest;
    if (!dest || dest.destroyed || dest.writableEnded) return false;
    const view = Buffer.from(buf.buffer, buf.byteOffset, n);
    // A chunk that would wait in dest's queue must not be the shared buffer, which the next read overwrites.
    const chunk = this.copiesOnWrite && dest.writableLength === 0 && !dest.writableCorked ? view : Buffer.from(view);
    if (dest.write(chunk)) return true;
    dest.once('drain', this.resume);
    return false;
  }
}

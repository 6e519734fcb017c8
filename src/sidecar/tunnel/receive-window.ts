// The connection window each end of a tunnel advertises, fitted to the kernel receive buffer of its own socket, so that
// two ends writing at once cannot wait on each other for good (docs/datapath.md "Both ends writing at once").
//
// Why: node's HTTP/2 stops reading its socket while one of its writes is in progress (so that a peer that does not
// read cannot make it queue without bound). When both ends have more in flight than the kernel buffers between them
// hold, each waits for the other to read and neither does: the connection stalls until a PING goes unanswered and
// every stream on it is reset. Invariant: what this end lets its peer have in flight (the connection window, DATA plus
// WINDOW_SLACK for the rest) fits in this end's socket receive buffer, so the peer's writes complete whether this end
// reads or not, and the peer then reads what this end writes. Either end keeping it breaks the cycle; both do.
import type net from 'node:net';
import { describe } from '../../common/errors.js';
import { bufferSizes, setBufferSizes, type BufferSizes } from '../../common/socket-buffers.js';

/** Room for what crosses a tunnel connection beside DATA: frame headers, TLS record overhead, control frames. */
export const WINDOW_SLACK = 64 * 1024;

/** HTTP/2's initial connection window (RFC 9113 §6.9.2), kept where the receive buffer cannot be sized. */
export const INITIAL_CONNECTION_WINDOW = 65_535;

/** The SO_RCVBUF to ask for so that `window` fits (Linux doubles the value and keeps about half for its overhead). Pure. */
export function receiveBufferFor(window: number): number {
  return window + WINDOW_SLACK;
}

/**
 * The connection window that fits a receive buffer of `buffer` bytes as the kernel reports it (twice what was asked,
 * capped by net.core.rmem_max): half of it, less WINDOW_SLACK, at most `configured` and never under HTTP/2's initial
 * window. Pure.
 */
export function connectionWindowFor(buffer: number, configured: number): number {
  return Math.max(INITIAL_CONNECTION_WINDOW, Math.min(configured, Math.floor(buffer / 2) - WINDOW_SLACK));
}

export interface SocketBufferIO {
  set(socket: net.Socket, sizes: BufferSizes): void;
  get(socket: net.Socket): Required<BufferSizes>;
}

const KERNEL: SocketBufferIO = { set: setBufferSizes, get: bufferSizes };

/**
 * Sizes the receive buffer of a tunnel connection's TCP socket for `configured` and returns the connection window
 * that fits what the kernel granted. Where it cannot be sized (no libc), `warn` says so and the window stays HTTP/2's
 * initial one, which the kernel's smallest default buffer holds.
 */
export function fitReceiveWindow(
  tcp: net.Socket,
  configured: number,
  warn: (code: string, fields: Record<string, unknown>, msg: string) => void,
  io: SocketBufferIO = KERNEL,
): number {
  if (tcp.destroyed) return INITIAL_CONNECTION_WINDOW;
  try {
    io.set(tcp, { receive: receiveBufferFor(configured) });
    return connectionWindowFor(io.get(tcp).receive, configured);
  } catch (e) {
    const { code, message } = describe(e);
    if (!tcp.destroyed) warn(code, { err: message }, 'cannot size the receive buffer of a tunnel connection: it keeps HTTP/2\'s 64 KiB connection window');
    return INITIAL_CONNECTION_WINDOW;
  }
}

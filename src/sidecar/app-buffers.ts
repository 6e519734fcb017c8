// The kernel buffers of the sockets between the sidecar and its apps (the inbound's dial to the app, the outbound's
// accepted app connection): small and fixed, so that an app that stops reading pins little kernel memory
// (docs/datapath.md "What is buffered where"). Loopback needs no large window to move fast.
import type net from 'node:net';
import { describe } from '../common/errors.js';
import type { Logger } from '../common/logger.js';
import { setBufferSizes, type BufferSizes } from '../common/socket-buffers.js';

/**
 * SO_SNDBUF and SO_RCVBUF asked for each app socket. Linux doubles it, so each direction of an app socket holds at
 * most 256 KiB in the kernel (skb overhead included) instead of the autotuned 4–6 MiB.
 */
export const APP_SOCKET_BUFFER_BYTES = 128 * 1024;

/** Applies the app sockets' buffer sizes; where the platform cannot, says so once and serves without them. */
export class AppSocketBuffers {
  private unavailable = false;

  constructor(
    private readonly log: Logger,
    private readonly bytes: number = APP_SOCKET_BUFFER_BYTES,
    private readonly set: (socket: net.Socket, sizes: BufferSizes) => void = setBufferSizes,
  ) {}

  /** Call once the socket is connected (it has a descriptor). */
  apply(socket: net.Socket): void {
    if (this.unavailable || socket.destroyed) return;
    try {
      this.set(socket, { send: this.bytes, receive: this.bytes });
    } catch (e) {
      if (socket.destroyed) return;
      this.unavailable = true;
      const { code, message } = describe(e);
      this.log.warn({ code, err: message }, 'cannot size the kernel buffers of app sockets: an app that stops reading may pin several MiB of kernel memory per connection');
    }
  }
}

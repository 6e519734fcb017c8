// Ending a TCP connection, or a TLS connection over one, with an RST, in the one way node 20 survives; and closing one
// without an RST unless a reset is under way. The data path's legs (sidecar/pipe.ts) and the front door use these.
import type net from 'node:net';

/** TLS sockets whose TCP socket was reset and which must not be destroyed in the same tick. */
const resetting = new WeakSet<net.Socket>();

/**
 * Tears a connection down with an RST where the platform allows it, else a plain close. `stream` is what the bytes
 * flow through (a TLSSocket, or `tcp` itself for plain TCP); `tcp` owns the TCP handle.
 * For TLS only the TCP socket is reset: node 20 crashes (SIGSEGV) when a TLSSocket is destroyed in the
 * same tick as a resetAndDestroy() of the socket under it. The TLS socket closes by itself; a later tick
 * destroys it if it has not.
 */
export function resetSocket(stream: net.Socket, tcpSocket: net.Socket): void {
  const tcp = tcpSocket as net.Socket & { resetAndDestroy?: () => net.Socket };
  if (stream === tcp) {
    if (tcp.destroyed) return;
    // libuv refuses to reset a socket whose shutdown (our FIN) is still in progress, and node then never closes it.
    const shutting = tcp.writableEnded && !tcp.writableFinished;
    if (typeof tcp.resetAndDestroy === 'function' && !tcp.connecting && !shutting) {
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
  if (resetting.has(stream)) return;
  if (stream.destroyed || tcp.destroyed || tcp.connecting || typeof tcp.resetAndDestroy !== 'function') {
    stream.destroy();
    return;
  }
  resetting.add(stream);
  try {
    tcp.resetAndDestroy();
  } catch {
    tcp.destroy();
  }
  setImmediate(() => {
    if (!stream.destroyed) stream.destroy();
  });
}

/** Closes a connection without an RST (idle timeout, drain), unless it is already being reset. */
export function closeSocket(stream: net.Socket): void {
  if (resetting.has(stream) || stream.destroyed) return;
  stream.destroy();
}

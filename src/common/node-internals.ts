// The only place ztmesh reaches into Node.js internals, one small adapter each. A changed shape throws
// NodeInternalsError (`node_internals_changed`), and test/unit/common/node-internals.test.ts fails on such a Node.
import type http2 from 'node:http2';
import net from 'node:net';
import type tls from 'node:tls';
import { ZtmeshError } from './errors.js';

/** A Node.js internal that ztmesh relies on is not there, or not as it was. */
export class NodeInternalsError extends ZtmeshError {
  constructor(what: string) {
    super('node_internals_changed', `Node.js ${process.version} changed an internal ztmesh relies on: ${what}`);
  }
}

/**
 * Hands an accepted TCP socket to a tls.Server that never listens: its own 'connection' listener wraps the socket
 * in a server TLSSocket (so the caller keeps accept, limits and timers, and the server does only TLS).
 */
export function injectConnection(server: tls.Server, raw: net.Socket): void {
  if (server.listenerCount('connection') === 0) throw new NodeInternalsError('a tls.Server has no connection listener to take sockets');
  server.emit('connection', raw);
}

/** The TCP socket that a server TLSSocket made by injectConnection() wraps (node keeps it as `_parent`). */
export function rawSocketOf(tlsSocket: tls.TLSSocket): net.Socket {
  const raw = (tlsSocket as unknown as { _parent?: unknown })._parent;
  if (!(raw instanceof net.Socket)) throw new NodeInternalsError('a server TLSSocket no longer names the TCP socket it wraps (_parent)');
  return raw;
}

/**
 * Names the peer of a socket whose kernel peer has no address (a Unix socket): node's http2 session and grpc-js read
 * `socket.remoteAddress`, so every gRPC call on the socket then reports `name` from getPeer(), which the hand-off
 * (common/grpc-hand-off.ts) uses to find the connection's facts.
 */
export function namePeer(socket: net.Socket, name: string): void {
  if (socket.remoteAddress !== undefined) throw new NodeInternalsError(`a socket to be named already has a peer address (${socket.remoteAddress})`);
  Object.defineProperty(socket, 'remoteAddress', { value: name, configurable: true });
}

/**
 * Offers a cached TLS session (a ticket from the 'session' event) on a client TLSSocket, before its ClientHello is
 * built. tls.connect's `session` option does the same but parses the ticket twice in node 20 (~0.4 ms each).
 */
export function offerSession(tlsSocket: tls.TLSSocket, ticket: Buffer): void {
  const setSession = (tlsSocket as unknown as { setSession?: unknown }).setSession;
  if (typeof setSession !== 'function') throw new NodeInternalsError('TLSSocket#setSession is gone');
  setSession.call(tlsSocket, ticket);
}

/** libuv's handle under a net.Socket: null once the socket is closed. */
function handleOf(socket: net.Socket): Record<string, unknown> | null {
  const handle = (socket as unknown as { _handle?: unknown })._handle;
  if (handle === null) return null;
  if (typeof handle !== 'object' || handle === undefined) throw new NodeInternalsError('a net.Socket no longer holds its libuv handle as _handle');
  return handle as Record<string, unknown>;
}

/** The file descriptor of an open socket (for getsockopt), or -1 once it is closed. */
export function socketFd(socket: net.Socket): number {
  const handle = handleOf(socket);
  if (!handle) return -1;
  if (typeof handle.fd !== 'number') throw new NodeInternalsError("a socket's libuv handle no longer exposes its file descriptor (fd)");
  return handle.fd;
}

/**
 * The local address and port of a socket whose connect() has not completed: the kernel has bound it already, but
 * node reports localAddress only after 'connect'. Empty once the socket is closed.
 */
export function boundEndpoint(socket: net.Socket): { address?: string; port?: number } {
  const handle = handleOf(socket);
  if (!handle) return {};
  if (typeof handle.getsockname !== 'function') throw new NodeInternalsError("a socket's libuv handle no longer has getsockname()");
  const out: { address?: string; port?: number } = {};
  return (handle.getsockname as (o: typeof out) => number).call(handle, out) === 0 ? out : {};
}

/** The symbols a net.Socket keeps its `onread` buffer and callback under, found once. */
let onreadKeys: { buffer: symbol; callback: symbol } | undefined;

/**
 * Makes a socket that exists already (one a net.Server accepted) read into `buffer` and hand each read to `callback`,
 * as net.connect's `onread` option does for a socket it makes: node stores both under Symbol(kBuffer) and
 * Symbol(kBufferCb) and tells the libuv handle to read into the buffer (useUserBuffer). Call it before the socket
 * reads anything (accepted with pauseOnConnect).
 */
export function readInto(socket: net.Socket, buffer: Uint8Array, callback: (bytes: number, buffer: Uint8Array) => boolean): void {
  onreadKeys ??= findOnreadKeys(socket);
  const handle = handleOf(socket);
  if (!handle) return;
  if (typeof handle.useUserBuffer !== 'function') throw new NodeInternalsError("a socket's libuv handle no longer has useUserBuffer()");
  const s = socket as unknown as Record<symbol, unknown>;
  s[onreadKeys.buffer] = buffer;
  s[onreadKeys.callback] = callback;
  (handle.useUserBuffer as (b: Uint8Array) => void).call(handle, buffer);
}

function findOnreadKeys(socket: net.Socket): { buffer: symbol; callback: symbol } {
  const symbols = Object.getOwnPropertySymbols(socket);
  const buffer = symbols.find((k) => k.description === 'kBuffer');
  const callback = symbols.find((k) => k.description === 'kBufferCb');
  if (!buffer || !callback) throw new NodeInternalsError('a net.Socket no longer keeps its onread buffer and callback as Symbol(kBuffer) and Symbol(kBufferCb)');
  return { buffer, callback };
}

/** The symbol node keeps an Http2Session's native handle under, found once. */
let sessionHandleKey: symbol | undefined;

/**
 * Whether nghttp2 still wants to read or write on an HTTP/2 session (nghttp2_session_want_read or want_write, which
 * node exposes on the native handle as hasPendingData()). False once nghttp2 ended the session by itself (a protocol
 * error: it queued GOAWAY and stopped reading) or a GOAWAY left nothing to finish, and once the session is destroyed.
 * Node 20 reports neither of the first two in any event, and stops reading the socket. True for a session that is
 * not set up yet (a client still connecting).
 */
export function sessionWantsIO(session: http2.Http2Session): boolean {
  // The native session is freed once destroyed: asking it then would dereference nothing.
  if (session.destroyed) return false;
  sessionHandleKey ??= Object.getOwnPropertySymbols(session).find((s) => s.description === 'kHandle');
  if (!sessionHandleKey) throw new NodeInternalsError('an Http2Session no longer holds its native handle as Symbol(kHandle)');
  const handle = (session as unknown as Record<symbol, unknown>)[sessionHandleKey];
  if (handle === undefined || handle === null) return true;
  const hasPendingData = (handle as { hasPendingData?: unknown }).hasPendingData;
  if (typeof hasPendingData !== 'function') throw new NodeInternalsError("an Http2Session's native handle no longer has hasPendingData()");
  return hasPendingData.call(handle) === true;
}

// Whether a TCP connection whose input node reported ended ('end') was reset rather than shut down, asked of the kernel:
// libuv reports a peer's RST as EOF when unread bytes arrived with it (it reads them, sees POLLHUP, and reports the end
// without the read that would have returned ECONNRESET), and a reset that one of our writes met first leaves the next
// read with 0 bytes too. The connection's state (TCP_INFO's tcpi_state, getsockopt(2) through koffi) tells them apart.
import type net from 'node:net';
import { libcFunction } from './libc.js';
import { socketFd } from './node-internals.js';

const SOL_SOCKET = 1;
const SO_ERROR = 4;
const IPPROTO_TCP = 6;
const TCP_INFO = 11;
/** include/net/tcp_states.h: where a reset leaves a connection. A FIN leaves it in CLOSE_WAIT (8), CLOSING or LAST_ACK. */
export const TCP_CLOSE = 7;
/** struct tcp_info begins with tcpi_state (one byte); the kernel copies no more than it is given room for. */
const TCP_INFO_HEAD = 8;

type GetSockOpt = (fd: number, level: number, name: number, value: Buffer, len: number[]) => number;

/** getsockopt(2) of `size` bytes on the socket's descriptor, or undefined where it cannot be asked. */
function socketOption(socket: net.Socket, level: number, name: number, size: number): Buffer | undefined {
  try {
    const fd = socketFd(socket);
    if (fd < 0) return undefined;
    const get = libcFunction<GetSockOpt>('int getsockopt(int fd, int level, int optname, _Out_ uint8_t *optval, _Inout_ uint32_t *optlen)');
    const value = Buffer.alloc(size);
    return get(fd, level, name, value, [size]) === 0 ? value : undefined;
  } catch {
    // No glibc or koffi, or not a socket node holds a descriptor for.
    return undefined;
  }
}

/** The kernel's state of an open TCP socket (ESTABLISHED 1 … CLOSE 7, CLOSE_WAIT 8), or undefined where it cannot be read. */
export function tcpState(socket: net.Socket): number | undefined {
  return socketOption(socket, IPPROTO_TCP, TCP_INFO, TCP_INFO_HEAD)?.[0];
}

/**
 * The error the kernel holds for the socket and has not reported yet (SO_ERROR, an errno; 0 for none), or undefined
 * where it cannot be read. Reading it clears it.
 */
export function takeSocketError(socket: net.Socket): number | undefined {
  return socketOption(socket, SOL_SOCKET, SO_ERROR, 4)?.readInt32LE(0);
}

/**
 * Whether the input that node reported ended on `stream` (a TCP socket, or a TLS socket over `tcp`) was ended by a
 * reset: the connection is closed while our side has not finished sending. Once our FIN went out, the peer's FIN closes
 * it too, so it is not asked then; nor could a write of ours have met a reset. False where the kernel cannot be asked:
 * the end is then taken for a FIN, as node takes it.
 */
export function endedByReset(stream: net.Socket, tcp: net.Socket): boolean {
  if (stream.writableFinished || tcp.writableFinished) return false;
  return tcpState(tcp) === TCP_CLOSE;
}

// The kernel's buffer sizes for one TCP socket (SO_SNDBUF, SO_RCVBUF), which Node.js has no API for: setsockopt(2)
// through koffi on the socket's descriptor. Linux doubles the value it is given and counts its own overhead in it.
import type net from 'node:net';
import { ProxyError } from './errors.js';
import { libcErrno, libcFunction } from './libc.js';
import { socketFd } from './node-internals.js';

const SOL_SOCKET = 1;
const SO_SNDBUF = 7;
const SO_RCVBUF = 8;

type SetSockOpt = (fd: number, level: number, name: number, value: Buffer, len: number) => number;
type GetSockOpt = (fd: number, level: number, name: number, value: Buffer, len: number[]) => number;

/** What to ask of the kernel, in bytes (each one doubled by Linux); an absent size is left as it is. */
export interface BufferSizes {
  send?: number;
  receive?: number;
}

/**
 * Sets the kernel buffers of an open socket. Throws ProxyError `socket_options_unavailable` when libc cannot be
 * reached, the socket has no descriptor (closed, or not connected yet) or the kernel refuses.
 */
export function setBufferSizes(socket: net.Socket, sizes: BufferSizes): void {
  const fd = openFd(socket);
  const set = call(() => libcFunction<SetSockOpt>('int setsockopt(int fd, int level, int name, uint8_t *value, uint32_t len)'));
  for (const [name, bytes] of [[SO_SNDBUF, sizes.send], [SO_RCVBUF, sizes.receive]] as const) {
    if (bytes === undefined) continue;
    const v = Buffer.alloc(4);
    v.writeInt32LE(bytes);
    if (set(fd, SOL_SOCKET, name, v, 4) !== 0) throw new ProxyError('socket_options_unavailable', `setsockopt(${name === SO_SNDBUF ? 'SO_SNDBUF' : 'SO_RCVBUF'}, ${bytes}) failed on fd ${fd} (errno ${libcErrno()})`);
  }
}

/** The kernel buffers of an open socket as the kernel holds them (twice what was set, or its autotuned size). */
export function bufferSizes(socket: net.Socket): Required<BufferSizes> {
  const fd = openFd(socket);
  const get = call(() => libcFunction<GetSockOpt>('int getsockopt(int fd, int level, int optname, _Out_ uint8_t *optval, _Inout_ uint32_t *optlen)'));
  const read = (name: number) => {
    const v = Buffer.alloc(4);
    if (get(fd, SOL_SOCKET, name, v, [4]) !== 0) throw new ProxyError('socket_options_unavailable', `getsockopt(${name}) failed on fd ${fd} (errno ${libcErrno()})`);
    return v.readInt32LE(0);
  };
  return { send: read(SO_SNDBUF), receive: read(SO_RCVBUF) };
}

function openFd(socket: net.Socket): number {
  const fd = socketFd(socket);
  if (fd < 0) throw new ProxyError('socket_options_unavailable', 'the socket has no file descriptor (closed, or not connected yet)');
  return fd;
}

function call<F>(load: () => F): F {
  try {
    return load();
  } catch (e) {
    throw new ProxyError('socket_options_unavailable', `cannot reach libc through koffi: ${(e as Error).message}`, { cause: e });
  }
}

// Who is on the other end of a Unix socket: the kernel's SO_PEERCRED (pid, uid, gid of the process that connected),
// read once per connection through libc's getsockopt (common/libc.ts). The Workload API decides access on it.
import type { Socket } from 'node:net';
import { ZtmeshError } from '../common/errors.js';
import { libcErrno, libcFunction } from '../common/libc.js';
import { socketFd } from '../common/node-internals.js';

/** asm-generic/socket.h: the socket level, and the option that returns struct ucred. */
export const SOL_SOCKET = 1;
export const SO_PEERCRED = 17;
/** struct ucred { pid_t pid; uid_t uid; gid_t gid; }: three 32-bit integers. */
const UCRED_SIZE = 12;

type GetSockOpt = (fd: number, level: number, name: number, val: Buffer, len: number[]) => number;

/** The process that connected, as the kernel saw it at connect(). */
export interface PeerCredentials {
  pid: number;
  uid: number;
  gid: number;
}

/** Decodes a struct ucred as the kernel fills it (little-endian hosts; exported for tests). */
export function decodeUcred(buf: Buffer): PeerCredentials {
  return { pid: buf.readInt32LE(0), uid: buf.readUInt32LE(4), gid: buf.readUInt32LE(8) };
}

/**
 * The peer credentials of an accepted Unix socket. Throws ZtmeshError `peer_credentials_unavailable` when the kernel
 * gives none (the socket is closed, or is not a Unix socket) or libc cannot be loaded.
 */
export function peerCredentials(socket: Socket): PeerCredentials {
  const fd = socketFd(socket);
  if (fd < 0) throw new ZtmeshError('peer_credentials_unavailable', 'the socket has no file descriptor (already closed?)');
  let getsockopt: GetSockOpt;
  try {
    getsockopt = libcFunction<GetSockOpt>('int getsockopt(int fd, int level, int optname, _Out_ uint8_t *optval, _Inout_ uint32_t *optlen)');
  } catch (e) {
    throw new ZtmeshError('peer_credentials_unavailable', `SO_PEERCRED: cannot load libc getsockopt through koffi: ${(e as Error).message}`, { cause: e });
  }
  const buf = Buffer.alloc(UCRED_SIZE);
  const len = [UCRED_SIZE];
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, buf, len) !== 0 || len[0] !== UCRED_SIZE) {
    throw new ZtmeshError('peer_credentials_unavailable', `getsockopt(SO_PEERCRED) failed on fd ${fd} (errno ${libcErrno()})`);
  }
  return decodeUcred(buf);
}

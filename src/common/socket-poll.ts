// What the kernel knows about sockets that nobody reads (a paused leg, an HTTP/2 session that stopped reading): libuv
// stops watching a socket it does not read, so a peer's FIN or RST goes unseen. One poll(2), zero timeout, via koffi.
import { ProxyError } from './errors.js';
import { libcFunction } from './libc.js';

const POLLERR = 0x8;
const POLLHUP = 0x10;
const POLLNVAL = 0x20;
const POLLRDHUP = 0x2000;
const POLLFD_BYTES = 8;

type Poll = (fds: Buffer, nfds: number, timeoutMs: number) => number;

/**
 * What a socket's peer did: `gone` (a reset, an error), `fin` (it shut down its side; with ours shut too the kernel
 * says POLLHUP, and what the peer sent before is still there to read), or nothing seen.
 */
export type PeerState = 'gone' | 'fin' | undefined;

/** Loads poll(2); throws ProxyError `socket_poll_unavailable` where libc cannot be reached (no glibc, no koffi). */
export function loadPeerStates(): (fds: readonly number[]) => PeerState[] {
  let poll: Poll;
  try {
    poll = libcFunction<Poll>('int poll(uint8_t *fds, unsigned long nfds, int timeout)');
  } catch (e) {
    throw new ProxyError('socket_poll_unavailable', `cannot reach poll(2) through koffi: ${(e as Error).message}`, { cause: e });
  }
  return (fds) => {
    const buf = Buffer.alloc(fds.length * POLLFD_BYTES);
    fds.forEach((fd, i) => {
      buf.writeInt32LE(fd, i * POLLFD_BYTES);
      buf.writeInt16LE(POLLRDHUP, i * POLLFD_BYTES + 4);
    });
    if (fds.length === 0 || poll(buf, fds.length, 0) <= 0) return fds.map(() => undefined);
    return fds.map((_, i) => {
      const revents = buf.readUInt16LE(i * POLLFD_BYTES + 6);
      if (revents & (POLLERR | POLLNVAL)) return 'gone';
      return revents & (POLLRDHUP | POLLHUP) ? 'fin' : undefined;
    });
  };
}

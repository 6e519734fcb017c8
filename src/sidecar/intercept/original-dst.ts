// Recovers the destination an app dialled before iptables REDIRECT rewrote it (SO_ORIGINAL_DST).
// libc getsockopt through koffi (no compiler, ~2 µs a call); read at once in the 'connection' handler.
import { connect, createServer, isIPv4, type Socket } from 'node:net';
import { ProxyError } from '../../common/errors.js';
import { libcErrno, libcFunction } from '../../common/libc.js';
import { socketFd } from '../../common/node-internals.js';

/** getsockopt level for IPv4 (netinet/in.h). */
export const SOL_IP = 0;
/** getsockopt level for IPv6 (netinet/in.h). */
export const SOL_IPV6 = 41;
/** linux/netfilter_ipv4.h: the pre-NAT destination of an IPv4 conntrack entry. */
export const SO_ORIGINAL_DST = 80;
/** linux/netfilter_ipv6/ip6_tables.h: the same for IPv6 (same number, other level). */
export const IP6T_SO_ORIGINAL_DST = 80;
const SOCKADDR_IN_SIZE = 16;
const SOCKADDR_IN6_SIZE = 28;
const AF_INET = 2;
const AF_INET6 = 10;

/** A socket address as the app originally dialled it. */
export interface OriginalDst {
  address: string;
  port: number;
  family: 4 | 6;
}

/** A failed SO_ORIGINAL_DST read, with the errno of each attempt (SOL_IP, SOL_IPV6, in the order tried). */
export class OriginalDstError extends ProxyError {
  constructor(message: string, readonly errnos: number[]) {
    super('original_dst_unavailable', message);
  }
}

type GetSockOpt = (fd: number, level: number, name: number, val: Buffer, len: number[]) => number;
interface Libc { getsockopt: GetSockOpt; errno: () => number }
let libc: Libc | undefined;

/** Loads libc's getsockopt once, on first use, so importing this module costs nothing off Linux. */
function loadLibc(): Libc {
  if (libc) return libc;
  if (process.platform !== 'linux') {
    throw new ProxyError('original_dst_unsupported', `SO_ORIGINAL_DST needs Linux; this is ${process.platform}`);
  }
  try {
    const fn = libcFunction<GetSockOpt>('int getsockopt(int fd, int level, int optname, _Out_ uint8_t *optval, _Inout_ uint32_t *optlen)');
    libc = { getsockopt: fn, errno: libcErrno };
    return libc;
  } catch (e) {
    throw new ProxyError('original_dst_unsupported', `cannot load libc getsockopt through koffi: ${(e as Error).message}`, { cause: e });
  }
}

function decodeIn(buf: Buffer): OriginalDst | undefined {
  if (buf.readUInt16LE(0) !== AF_INET) return undefined;
  return { address: `${buf[4]}.${buf[5]}.${buf[6]}.${buf[7]}`, port: buf.readUInt16BE(2), family: 4 };
}

function decodeIn6(buf: Buffer): OriginalDst | undefined {
  if (buf.readUInt16LE(0) !== AF_INET6) return undefined;
  const groups: string[] = [];
  for (let i = 0; i < 8; i++) groups.push(buf.readUInt16BE(8 + i * 2).toString(16));
  return { address: compressIpv6(groups), port: buf.readUInt16BE(2), family: 6 };
}

/** RFC 5952 text for eight hex groups (longest zero run → "::"), so it compares equal to Node's own. */
function compressIpv6(groups: string[]): string {
  if (groups.slice(0, 5).every((g) => g === '0') && groups[5] === 'ffff') {
    const b = groups.slice(6).map((g) => parseInt(g, 16));
    return `::ffff:${b[0]! >> 8}.${b[0]! & 255}.${b[1]! >> 8}.${b[1]! & 255}`;
  }
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    if (groups[i] !== '0') { i++; continue; }
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > bestLen) { best = i; bestLen = j - i; }
    i = j;
  }
  if (best < 0) return groups.join(':');
  return `${groups.slice(0, best).join(':')}::${groups.slice(best + bestLen).join(':')}`;
}

/** Decodes a sockaddr_in or sockaddr_in6 as the kernel fills it (exported for tests). */
export function decodeSockaddr(buf: Buffer): OriginalDst | undefined {
  return buf.length >= SOCKADDR_IN6_SIZE && buf.readUInt16LE(0) === AF_INET6 ? decodeIn6(buf) : decodeIn(buf);
}

/**
 * The original destination of an accepted, REDIRECTed connection. Call it synchronously in the
 * 'connection' handler. Throws ProxyError `original_dst_unavailable` when the kernel has none
 * (no conntrack entry, not TCP, socket closed).
 */
export function originalDst(socket: Socket): OriginalDst {
  const fd = socketFd(socket);
  if (fd < 0) throw new OriginalDstError('socket has no file descriptor (already closed?)', []);
  const c = loadLibc();
  // An IPv4 listener gets SOL_IP; an IPv6 one gets SOL_IPV6; try the likely level first.
  const v6First = socket.localAddress !== undefined && !isIPv4(socket.localAddress) && !socket.localAddress.startsWith('::ffff:');
  const attempts = v6First ? [tryV6, tryV4] : [tryV4, tryV6];
  const errnos: number[] = [];
  for (const attempt of attempts) {
    const r = attempt(c, fd);
    if (typeof r === 'number') errnos.push(r);
    else return r;
  }
  throw new OriginalDstError(`getsockopt(SO_ORIGINAL_DST) failed on fd ${fd} (errno ${errnos.join(', ')})`, errnos);
}

function tryV4(c: Libc, fd: number): OriginalDst | number {
  const buf = Buffer.alloc(SOCKADDR_IN_SIZE);
  const len = [SOCKADDR_IN_SIZE];
  if (c.getsockopt(fd, SOL_IP, SO_ORIGINAL_DST, buf, len) !== 0) return c.errno();
  return decodeIn(buf) ?? -1;
}

function tryV6(c: Libc, fd: number): OriginalDst | number {
  const buf = Buffer.alloc(SOCKADDR_IN6_SIZE);
  const len = [SOCKADDR_IN6_SIZE];
  if (c.getsockopt(fd, SOL_IPV6, IP6T_SO_ORIGINAL_DST, buf, len) !== 0) return c.errno();
  return decodeIn6(buf) ?? -1;
}

/** errno when the kernel tracks no connection for the socket (no nat rules in this network namespace). */
const ENOENT = 2;

/**
 * Boot-time check: a loopback connection to a throwaway listener must yield an original destination.
 * Fails with a message saying what to fix when koffi cannot load, or when conntrack does not see the
 * connection because `ztmesh iptables` has not run in this network namespace.
 */
export async function checkOriginalDst(): Promise<OriginalDst> {
  loadLibc();
  return new Promise<OriginalDst>((resolve, reject) => {
    let probe: Socket | undefined;
    const server = createServer((s) => {
      let result: OriginalDst | undefined;
      let error: unknown;
      try {
        result = originalDst(s);
      } catch (e) {
        error = e;
      }
      s.destroy();
      probe?.destroy();
      server.close();
      if (result) return resolve(result);
      const noConntrack = error instanceof OriginalDstError && error.errnos.includes(ENOENT);
      const hint = noConntrack
        ? 'the kernel tracks no NAT state for this network namespace: run `ztmesh iptables` in it (as root, in an init container) before the sidecar'
        : 'is this Linux with the nf_conntrack / nf_nat modules?';
      reject(new ProxyError('original_dst_unavailable', `transparent mode cannot read SO_ORIGINAL_DST: ${(error as Error).message}; ${hint}`, { cause: error }));
    });
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port;
      probe = connect(port, '127.0.0.1').on('error', () => {});
    });
  });
}

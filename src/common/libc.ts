// libc's getsockopt through koffi (no compiler, ~2 µs a call), loaded once on first use, so importing costs nothing
// off Linux: SO_ORIGINAL_DST (sidecar/intercept/original-dst.ts) and SO_PEERCRED (workload-api/peer-credentials.ts).
import { createRequire } from 'node:module';
import { ZtmeshError } from './errors.js';

/** getsockopt(2) with koffi's out-parameters, and the errno of the last call. */
export interface Libc {
  getsockopt(fd: number, level: number, name: number, val: Buffer, len: number[]): number;
  errno(): number;
}

let loaded: Libc | undefined;

/** libc, loaded on first use; ZtmeshError `libc_unavailable` off Linux or when koffi cannot load it. */
export function libc(): Libc {
  if (loaded) return loaded;
  if (process.platform !== 'linux') throw new ZtmeshError('libc_unavailable', `needs Linux; this is ${process.platform}`);
  try {
    const koffi = createRequire(import.meta.url)('koffi') as {
      load(name: string): { func(proto: string): (...args: unknown[]) => unknown };
      errno(): number;
    };
    const lib = koffi.load('libc.so.6');
    const fn = lib.func('int getsockopt(int fd, int level, int optname, _Out_ uint8_t *optval, _Inout_ uint32_t *optlen)');
    loaded = { getsockopt: fn as Libc['getsockopt'], errno: () => koffi.errno() };
    return loaded;
  } catch (e) {
    throw new ZtmeshError('libc_unavailable', `cannot load libc getsockopt through koffi: ${(e as Error).message}`, { cause: e });
  }
}

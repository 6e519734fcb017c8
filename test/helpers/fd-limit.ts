// Flood tests need thousands of sockets in this process and in the processes it starts. Node already raises
// its soft RLIMIT_NOFILE to the hard limit at startup; this raises the hard one too where it is lower (as root).
import { createRequire } from 'node:module';

const RLIMIT_NOFILE = 7;

interface Rlimit { rlim_cur: number | bigint; rlim_max: number | bigint }
interface Libc {
  getrlimit(resource: number, out: Rlimit): number;
  setrlimit(resource: number, lim: Rlimit): number;
}

function libc(): Libc {
  const koffi = createRequire(import.meta.url)('koffi') as {
    struct(def: Record<string, string>): unknown;
    load(name: string): { func(name: string, ret: string, args: unknown[]): (...a: unknown[]) => number };
    out(t: unknown): unknown;
    pointer(t: unknown): unknown;
  };
  const rlimit = koffi.struct({ rlim_cur: 'uint64_t', rlim_max: 'uint64_t' });
  const lib = koffi.load('libc.so.6');
  return {
    getrlimit: lib.func('getrlimit', 'int', ['int', koffi.out(koffi.pointer(rlimit))]) as Libc['getrlimit'],
    setrlimit: lib.func('setrlimit', 'int', ['int', koffi.pointer(rlimit)]) as Libc['setrlimit'],
  };
}

/**
 * Makes at least `wanted` file descriptors available to this process and its future children. Returns undefined
 * on success, or why not (a skip reason to print).
 */
export function ensureFdLimit(wanted: number): string | undefined {
  if (process.platform !== 'linux') return `raising RLIMIT_NOFILE is done through glibc; this is ${process.platform}`;
  try {
    const c = libc();
    const lim: Rlimit = { rlim_cur: 0, rlim_max: 0 };
    if (c.getrlimit(RLIMIT_NOFILE, lim) !== 0) return 'getrlimit(RLIMIT_NOFILE) failed';
    if (Number(lim.rlim_cur) >= wanted) return undefined;
    const max = Math.max(Number(lim.rlim_max), wanted);
    if (c.setrlimit(RLIMIT_NOFILE, { rlim_cur: wanted, rlim_max: max }) !== 0) {
      return `need ${wanted} file descriptors, the limit is ${lim.rlim_cur} (hard ${lim.rlim_max}) and cannot be raised (not root?)`;
    }
    return undefined;
  } catch (e) {
    return `cannot reach getrlimit/setrlimit through koffi: ${(e as Error).message}`;
  }
}

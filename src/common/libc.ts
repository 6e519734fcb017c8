// glibc functions through koffi, for the few system calls Node.js has no API for (socket options, poll, malloc_trim).
// Loaded once per process on first use, so that importing a module that may need one costs nothing.
import { createRequire } from 'node:module';

interface Koffi {
  load(name: string): { func(proto: string): unknown };
  errno(): number;
}

let koffi: Koffi | undefined;
let lib: ReturnType<Koffi['load']> | undefined;
const functions = new Map<string, unknown>();

/**
 * The libc function declared by `proto` (koffi's C-like syntax), loaded once. Throws where there is no glibc
 * (musl, macOS) or koffi cannot load: callers say so once and carry on without it.
 */
export function libcFunction<F>(proto: string): F {
  let fn = functions.get(proto);
  if (fn === undefined) {
    koffi ??= createRequire(import.meta.url)('koffi') as Koffi;
    lib ??= koffi.load('libc.so.6');
    fn = lib.func(proto);
    functions.set(proto, fn);
  }
  return fn as F;
}

/** errno of the last libc call made through koffi on this thread. */
export function libcErrno(): number {
  return koffi?.errno() ?? 0;
}

// Collects the messages of a WatchTrustBundle stream for tests: next(n) waits until n have arrived.
import type * as grpc from '@grpc/grpc-js';
import type { TrustBundle__Output } from '../../src/gen/ztmesh/ca/v1/TrustBundle.js';

export interface BundleCollector {
  seen: TrustBundle__Output[];
  /** Resolves with the count-th message (1-based) once it arrived; rejects after timeoutMs. */
  next(count: number, timeoutMs?: number): Promise<TrustBundle__Output>;
}

export function collectBundles(stream: grpc.ClientReadableStream<TrustBundle__Output>): BundleCollector {
  const seen: TrustBundle__Output[] = [];
  let wake: (() => void) | undefined;
  stream.on('data', (b: TrustBundle__Output) => { seen.push(b); wake?.(); });
  stream.on('error', () => undefined);
  return {
    seen,
    async next(count, timeoutMs = 10_000) {
      const until = Date.now() + timeoutMs;
      while (seen.length < count) {
        if (Date.now() > until) throw new Error(`only ${seen.length} bundle message(s) arrived`);
        await new Promise<void>((r) => { wake = r; setTimeout(r, 200); });
      }
      return seen[count - 1]!;
    },
  };
}

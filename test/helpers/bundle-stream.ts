// Collects the messages of a WatchTrustBundle stream for tests: next(n) waits until the n-th version of the X.509
// bundle (its sequence) has arrived. A message that changes only the JWT authorities (a new JWT key period, the keys
// of a new signing key) replaces the last entry instead of counting as a new version; `messages` keeps every one.
import type * as grpc from '@grpc/grpc-js';
import type { TrustBundle__Output } from '../../src/gen/ztmesh/ca/v1/TrustBundle.js';

export interface BundleCollector {
  /** One entry per bundle sequence, each the latest message of that sequence. */
  seen: TrustBundle__Output[];
  /** Every message, in order. */
  messages: TrustBundle__Output[];
  /** Resolves with the count-th bundle version (1-based) once it arrived; rejects after timeoutMs. */
  next(count: number, timeoutMs?: number): Promise<TrustBundle__Output>;
}

export function collectBundles(stream: grpc.ClientReadableStream<TrustBundle__Output>): BundleCollector {
  const seen: TrustBundle__Output[] = [];
  const messages: TrustBundle__Output[] = [];
  let wake: (() => void) | undefined;
  stream.on('data', (b: TrustBundle__Output) => {
    messages.push(b);
    if (seen.at(-1)?.sequence === b.sequence) seen[seen.length - 1] = b;
    else seen.push(b);
    wake?.();
  });
  stream.on('error', () => undefined);
  return {
    seen,
    messages,
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

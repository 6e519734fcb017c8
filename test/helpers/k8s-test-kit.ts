// Shared set-up for the Kubernetes tests: a TokenReview attestor wired to the stand-in API server, with
// a fake clock and a logger whose JSON lines the test can read.
import { captureLogger } from './capture-logger.js';
import { createKubeClient, inClusterConfig } from '../../src/k8s/kube-client.js';
import { TokenReviewAttestor } from '../../src/k8s/token-review.js';
import { FakeClock } from './fake-clock.js';
import { startFakeApiServer, type FakeApiServer } from './fake-apiserver.js';

export { captureLogger };

export interface AttestorKit {
  api: FakeApiServer;
  clock: FakeClock;
  attestor: TokenReviewAttestor;
  log: ReturnType<typeof captureLogger>;
  close(): Promise<void>;
}

/** A stand-in API server plus an attestor pointed at it, sharing one fake clock. */
export async function attestorKit(opts: { cacheTtlMs?: number } = {}): Promise<AttestorKit> {
  const clock = new FakeClock();
  const api = await startFakeApiServer({ now: () => clock.now() });
  const log = captureLogger();
  const client = createKubeClient(inClusterConfig({}, { server: api.url, caFile: api.caFile, tokenFile: api.tokenFile, serverName: api.serverName, timeoutMs: 2_000 }));
  const attestor = new TokenReviewAttestor({ client, trustDomain: 'cluster.local', clock, logger: log.logger, ...(opts.cacheTtlMs ? { cacheTtlMs: opts.cacheTtlMs } : {}) });
  return { api, clock, attestor, log, close: () => api.close() };
}

// Shared set-up for the Kubernetes tests: a TokenReview attestor wired to the stand-in API server, with
// a fake clock and a logger whose JSON lines the test can read.
import { Writable } from 'node:stream';
import { createLogger, type Logger } from '../../src/common/logger.js';
import { createKubeClient, inClusterConfig } from '../../src/k8s/kube-client.js';
import { TokenReviewAttestor } from '../../src/k8s/token-review.js';
import { FakeClock } from './fake-clock.js';
import { startFakeApiServer, type FakeApiServer } from './fake-apiserver.js';

/** A logger that keeps every line; `text()` is what would have reached stdout. */
export function captureLogger(): { logger: Logger; lines: Record<string, unknown>[]; text(): string } {
  const raw: string[] = [];
  const stream = new Writable({ write(chunk, _enc, cb) { raw.push(...String(chunk).split('\n').filter(Boolean)); cb(); } });
  const logger = createLogger({ level: 'debug', destination: stream });
  return {
    logger,
    get lines() { return raw.map((l) => JSON.parse(l) as Record<string, unknown>); },
    text: () => raw.join('\n'),
  };
}

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

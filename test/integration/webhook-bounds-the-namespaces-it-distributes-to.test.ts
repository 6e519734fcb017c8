// The webhook's set of namespaces to keep the trust bundle in is bounded and forgets: past its cap (MAX_NAMESPACES,
// made small here) a meshed namespace gets no ConfigMap and no API request, only a throttled warning, and it takes the
// first place that frees up; a namespace that leaves the mesh leaves the set with its retry timer, so it sees no
// request again however long the clock runs. Against the stand-in API server, with the webhook's own credentials.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BundleDistributor, DISTRIBUTE_BACKOFF } from '../../src/k8s/bundle-distributor.js';
import { startFakeApiServer, type FakeApiServer } from '../helpers/fake-apiserver.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { captureLogger } from '../helpers/k8s-test-kit.js';
import { applyWebhookRbac, configMapRequestsTo, namespace, rootsIn, startDistributor, writerBinding } from '../helpers/bundle-distribution.js';

const CAP = 2;
let api: FakeApiServer;
const clock = new FakeClock();
const log = captureLogger();
let d: BundleDistributor;

const roots = (ns: string) => rootsIn(api, ns);
/** The fake clock's timers short enough to be retries (the watches' own timers run for minutes). */
const retryTimers = () => clock.pendingTimers().filter((ms) => ms <= DISTRIBUTE_BACKOFF.maxMs);
const requestsTo = (ns: string) => configMapRequestsTo(api, ns);

beforeAll(async () => {
  api = await startFakeApiServer();
  applyWebhookRbac(api);
  // a and b may be written; c may be written but comes third; d may not be written at all.
  for (const ns of ['a', 'b', 'c']) api.apply(writerBinding(ns));
  api.apply(namespace('a', 'enabled'));
  api.apply(namespace('b', 'enabled'));
  d = await startDistributor(api, 'ROOTS-1', { clock, log: log.logger, random: () => 0.5, maxNamespaces: CAP });
});
afterAll(async () => {
  await d?.stop();
  await api?.close();
});

describe('the namespace set of trust bundle distribution', () => {
  it(`keeps at most ${CAP} namespaces: the next one meshed gets no request and a warning names it`, async () => {
    await expect.poll(() => [roots('a'), roots('b')]).toEqual(['ROOTS-1', 'ROOTS-1']);
    api.apply(namespace('c', 'enabled'));
    await expect.poll(() => log.lines.find((l) => l.code === 'bundle_distribution_full')).toMatchObject({ namespace: 'c', max: CAP, level: 'warn' });
    expect(d.meshedNamespaces().sort()).toEqual(['a', 'b']);
    expect(requestsTo('c')).toBe(0);
    expect(roots('c')).toBeUndefined();
  });

  it('gives a place that frees up to a namespace that was waiting for one', async () => {
    api.apply(namespace('a'));
    await expect.poll(() => d.meshedNamespaces().sort()).toEqual(['b', 'c']);
    await expect.poll(() => roots('c')).toBe('ROOTS-1');
  });

  it('forgets a namespace that leaves, retry timer included: no request after it left', async () => {
    api.apply(namespace('b'));
    api.apply(namespace('d', 'enabled')); // no RoleBinding: every write fails
    await expect.poll(() => d.meshedNamespaces().sort()).toEqual(['c', 'd']);
    await expect.poll(() => log.lines.find((l) => l.code === 'bundle_distribution_failed' && l.namespace === 'd')).toBeDefined();
    expect(retryTimers()).toEqual([DISTRIBUTE_BACKOFF.initialMs]);
    await clock.advance(DISTRIBUTE_BACKOFF.initialMs);
    await expect.poll(() => requestsTo('d')).toBe(2); // retried: a GET each time, refused
    await expect.poll(() => retryTimers()).toEqual([DISTRIBUTE_BACKOFF.initialMs * DISTRIBUTE_BACKOFF.multiplier]);
    api.apply(namespace('d'));
    await expect.poll(() => d.meshedNamespaces()).toEqual(['c']);
    expect(retryTimers()).toEqual([]);
    await clock.advance(DISTRIBUTE_BACKOFF.maxMs * 2);
    expect(requestsTo('d')).toBe(2);
  });
});

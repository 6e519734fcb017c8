// The sidecar's JWT-SVID cache on a fake clock: a token is served until its half-life, then renewed; callers for the
// same audience set (in any order) share one CA call; while the CA fails the cached token is served until it
// expires, then the failure shows (`ca_unavailable`, or `no_svid` before the first SVID); the cache is bounded.
import { SignJWT } from 'jose';
import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { audienceKey, JwtSvidCache, jwtRefreshAtMs } from '../../../src/workload-api/jwt-cache.js';
import { CaClientError } from '../../../src/common/errors.js';
import { captureLogger } from '../../helpers/capture-logger.js';
import { FakeClock } from '../../helpers/fake-clock.js';

const ID = 'spiffe://example.org/ns/default/sa/web';
const key = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;

function harness(opts: { maxEntries?: number; sub?: string } = {}) {
  const clock = new FakeClock(Math.floor(Date.now() / 1000) * 1000);
  const calls: string[][] = [];
  let fail: Error | undefined;
  const sign = async (audiences: readonly string[]) => {
    calls.push([...audiences]);
    if (fail) throw fail;
    const iat = Math.floor(clock.now() / 1000);
    return { token: await new SignJWT({}).setProtectedHeader({ alg: 'ES256' }).setSubject(opts.sub ?? ID).setAudience([...audiences]).setIssuedAt(iat).setExpirationTime(iat + 300).sign(key) };
  };
  const log = captureLogger();
  const cache = new JwtSvidCache({ sign, clock, log: log.logger, ...(opts.maxEntries ? { maxEntries: opts.maxEntries } : {}) });
  return { clock, calls, cache, log, failWith: (e: Error | undefined) => { fail = e; } };
}

describe('JwtSvidCache', () => {
  it('serves a token until its half-life, then asks the CA again', async () => {
    const h = harness();
    const a = await h.cache.get(['db'], ID);
    expect(a.cached).toBe(false);
    expect(jwtRefreshAtMs(a)).toBe(a.issuedAtMs + 150_000);
    await h.clock.advance(149_000);
    expect(await h.cache.get(['db'], ID)).toMatchObject({ token: a.token, cached: true });
    await h.clock.advance(1_000);
    const b = await h.cache.get(['db'], ID);
    expect(b).toMatchObject({ cached: false });
    expect(b.token).not.toBe(a.token);
    expect(h.calls).toHaveLength(2);
    expect(h.cache.stats()).toEqual({ cached: 1, fetched: 2, servedFromCache: 1 });
  });

  it('keys by the set of audiences, and joins callers to one CA call', async () => {
    const h = harness();
    const [x, y] = await Promise.all([h.cache.get(['a', 'b'], ID), h.cache.get(['b', 'a', 'a'], ID)]);
    expect(x.token).toBe(y.token);
    expect(h.calls).toEqual([['a', 'b']]);
    expect(audienceKey(['b', 'a', 'a'])).toBe(audienceKey(['a', 'b']));
    await h.cache.get(['a'], ID);
    expect(h.calls).toHaveLength(2);
  });

  it('while the CA fails, serves the cached token until it expires, then fails with ca_unavailable', async () => {
    const h = harness();
    const a = await h.cache.get(['db'], ID);
    h.failWith(new CaClientError('unavailable', 'CA down'));
    await h.clock.advance(200_000);
    expect(await h.cache.get(['db'], ID)).toMatchObject({ token: a.token, cached: true });
    expect(h.log.lines.find((l) => l.msg === 'JWT-SVID not renewed; serving the cached one until it expires')).toMatchObject({ code: 'ca_unavailable', err: expect.stringContaining('unavailable: CA down') });
    expect(JSON.stringify(h.log.lines)).not.toContain(a.token);
    await h.clock.advance(100_000);
    await expect(h.cache.get(['db'], ID)).rejects.toMatchObject({ code: 'ca_unavailable' });
    h.failWith(new CaClientError('no_svid', 'none yet'));
    await expect(h.cache.get(['other'], ID)).rejects.toMatchObject({ code: 'no_svid' });
  });

  it('refuses a token for another ID, and forgets the least recently used audience set past its bound', async () => {
    await expect(harness({ sub: 'spiffe://example.org/ns/default/sa/other' }).cache.get(['db'], ID)).rejects.toMatchObject({ code: 'ca_unavailable' });
    const h = harness({ maxEntries: 2 });
    await h.cache.get(['a'], ID);
    await h.cache.get(['b'], ID);
    await h.cache.get(['a'], ID); // a is now the most recent
    await h.cache.get(['c'], ID); // b goes
    await h.cache.get(['a'], ID);
    await h.cache.get(['b'], ID);
    expect(h.calls.map((c) => c[0])).toEqual(['a', 'b', 'c', 'b']);
  });
});

import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/common/logger.js';
import { k8sAttestorsFromFlags, parseDnsGrants } from '../../../src/k8s/ca-attestor-flags.js';
import { FakeClock } from '../../helpers/fake-clock.js';

describe('ca serve --k8s-* flags', () => {
  it('parses --k8s-dns-san grants into SPIFFE ID → DNS names', () => {
    const g = parseDnsGrants(['ztmesh-system/ztmesh-webhook=ztmesh-webhook.ztmesh-system.svc,ztmesh-webhook.ztmesh-system.svc.cluster.local'], 'cluster.local');
    expect([...g]).toEqual([['spiffe://cluster.local/ns/ztmesh-system/sa/ztmesh-webhook',
      ['ztmesh-webhook.ztmesh-system.svc', 'ztmesh-webhook.ztmesh-system.svc.cluster.local']]]);
  });

  it.each(['no-slash=a.b', 'ns/sa=', 'ns/sa=Bad_Name', 'ns/sa'])('refuses --k8s-dns-san %j naming the flag', (v) => {
    expect(() => parseDnsGrants([v], 'cluster.local')).toThrow(expect.objectContaining({ code: 'invalid_flag', message: expect.stringContaining('--k8s-dns-san') }));
  });

  it('is off without --k8s-token-review, and needs an API server when on', async () => {
    const ctx = { dir: '/nonexistent', trustDomain: 'cluster.local', log: silentLogger(), clock: new FakeClock(), env: {} };
    expect(await k8sAttestorsFromFlags({}, ctx)).toEqual([]);
    await expect(k8sAttestorsFromFlags({ k8sTokenReview: true }, ctx)).rejects.toMatchObject({ code: 'k8s_not_in_cluster' });
    const [a] = await k8sAttestorsFromFlags({ k8sTokenReview: true }, { ...ctx, env: { KUBERNETES_SERVICE_HOST: '10.96.0.1' } });
    expect(a!.name).toBe('k8s_token');
    await expect(k8sAttestorsFromFlags({ k8sTokenReview: true, k8sCacheTtl: 'soon', k8sApi: 'https://x' }, ctx)).rejects.toMatchObject({ code: 'invalid_flag' });
  });
});

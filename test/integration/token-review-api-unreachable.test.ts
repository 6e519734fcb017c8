// The API server is unreachable, failing or forbids the CA: upstream_unavailable (gRPC UNAVAILABLE), never an attestation.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKubeClient, inClusterConfig } from '../../src/k8s/kube-client.js';
import { TokenReviewAttestor } from '../../src/k8s/token-review.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { attestorKit, captureLogger, type AttestorKit } from '../helpers/k8s-test-kit.js';

describe('TokenReview attestor: API server unavailable', () => {
  let kit: AttestorKit;
  beforeAll(async () => { kit = await attestorKit(); });
  afterAll(async () => { await kit.close(); });

  it('connection refused → upstream_unavailable, logged with the peer, token not logged', async () => {
    const token = await kit.api.mintToken({ namespace: 'a', serviceAccount: 'b' });
    const log = captureLogger();
    const dead = new TokenReviewAttestor({
      // Port 1 on loopback: nothing listens there.
      client: createKubeClient(inClusterConfig({}, { server: 'https://127.0.0.1:1', caFile: kit.api.caFile, tokenFile: kit.api.tokenFile, timeoutMs: 1_000 })),
      trustDomain: 'cluster.local', clock: new FakeClock(), logger: log.logger,
    });
    await expect(dead.attest({ bearerToken: token, peer: '10.9.9.9:5' })).rejects.toMatchObject({ code: 'upstream_unavailable' });
    expect(log.lines.find((l) => l.code === 'upstream_unavailable')).toMatchObject({ peer: '10.9.9.9:5', level: 'error' });
    expect(log.text()).not.toContain(token);
  });

  it.each([['http-500'], ['http-403']] as const)('%s from the API server → upstream_unavailable', async (mode) => {
    const token = await kit.api.mintToken({ namespace: 'a', serviceAccount: mode });
    kit.api.mode = mode;
    try {
      await expect(kit.attestor.attest({ bearerToken: token, peer: 'p' })).rejects.toMatchObject({ code: 'upstream_unavailable' });
    } finally {
      kit.api.mode = 'normal';
    }
  });

  it('an untrusted API server certificate → upstream_unavailable (TLS is verified against ca.crt)', async () => {
    const token = await kit.api.mintToken({ namespace: 'a', serviceAccount: 'tls' });
    const other = await attestorKit();
    try {
      const wrongCa = new TokenReviewAttestor({
        client: createKubeClient(inClusterConfig({}, { server: kit.api.url, caFile: other.api.caFile, tokenFile: kit.api.tokenFile, serverName: 'localhost' })),
        trustDomain: 'cluster.local', clock: kit.clock, logger: captureLogger().logger,
      });
      await expect(wrongCa.attest({ bearerToken: token, peer: 'p' })).rejects.toMatchObject({ code: 'upstream_unavailable' });
    } finally {
      await other.close();
    }
  });

  it('in-cluster config comes from KUBERNETES_SERVICE_HOST/PORT', () => {
    expect(inClusterConfig({ KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443' })).toMatchObject({
      server: 'https://10.96.0.1', tokenFile: '/var/run/secrets/kubernetes.io/serviceaccount/token', caFile: '/var/run/secrets/kubernetes.io/serviceaccount/ca.crt',
    });
    expect(inClusterConfig({ KUBERNETES_SERVICE_HOST: 'fd00::1', KUBERNETES_SERVICE_PORT: '6443' }).server).toBe('https://[fd00::1]:6443');
    expect(() => inClusterConfig({})).toThrow(expect.objectContaining({ code: 'k8s_not_in_cluster' }));
  });
});

// A real `ztmesh ca serve --k8s-token-review` whose API server is unreachable answers UNAVAILABLE and never signs;
// pointed at the stand-in it signs for the token's ServiceAccount, with DNS SANs only where --k8s-dns-san grants them.
import { X509Certificate } from 'node:crypto';
import { status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeCsr, refusalLogged, signCsr, signError, startCa, type TestCaServer } from '../helpers/ca.js';
import { startFakeApiServer, type FakeApiServer } from '../helpers/fake-apiserver.js';

const TD = 'cluster.local';
let api: FakeApiServer;
let dead: TestCaServer;
let live: TestCaServer;

beforeAll(async () => {
  api = await startFakeApiServer();
  const k8s = ['--k8s-token-review', '--k8s-ca-file', api.caFile, '--k8s-token-file', api.tokenFile, '--k8s-server-name', api.serverName];
  [dead, live] = await Promise.all([
    startCa({ trustDomain: TD, args: [...k8s, '--k8s-api', 'https://127.0.0.1:1'] }),
    startCa({ trustDomain: TD, args: [...k8s, '--k8s-api', api.url, '--k8s-dns-san', 'ztmesh-system/ztmesh-webhook=ztmesh-webhook.ztmesh-system.svc',
      '--grant-reserved-id', 'ztmesh-system/ztmesh-webhook'] }),
  ]);
});
afterAll(async () => {
  await Promise.all([dead?.stop(), live?.stop()]);
  await api?.close();
});

describe('ztmesh ca with the TokenReview attestor', () => {
  it('API server unreachable: UNAVAILABLE with upstream_unavailable, nothing signed, token not logged', async () => {
    const token = await api.mintToken({ namespace: 'shop', serviceAccount: 'web' });
    const { csr } = makeCsr(`spiffe://${TD}/ns/shop/sa/web`);
    const err = await signError(dead.client(), csr, { token });
    expect(err.code).toBe(status.UNAVAILABLE);
    const line = await refusalLogged(dead, 'upstream_unavailable');
    expect(line.peer).toBeDefined();
    expect(dead.process.output()).not.toContain(token);
    expect(dead.process.json().some((l) => /issued|signed/i.test(String(l.msg)) && l.spiffeId)).toBe(false);
  });

  it('API server reachable: signs spiffe://cluster.local/ns/<ns>/sa/<sa> for the token', async () => {
    const token = await api.mintToken({ namespace: 'shop', serviceAccount: 'web' });
    const { csr } = makeCsr(`spiffe://${TD}/ns/shop/sa/web`, { dnsNames: ['evil.example.com'] });
    const res = await signCsr(live.client(), csr, { token });
    const leaf = new X509Certificate(res.certChain[0]!);
    expect(leaf.subjectAltName).toBe(`URI:spiffe://${TD}/ns/shop/sa/web`); // the unrequested DNS SAN was dropped
    expect(live.process.output()).not.toContain(token);
  });

  it('a CSR for another ServiceAccount is refused with PERMISSION_DENIED', async () => {
    const token = await api.mintToken({ namespace: 'shop', serviceAccount: 'web' });
    const { csr } = makeCsr(`spiffe://${TD}/ns/shop/sa/admin`);
    expect((await signError(live.client(), csr, { token })).code).toBe(status.PERMISSION_DENIED);
  });

  it('a refused token is UNAUTHENTICATED', async () => {
    const token = await api.mintToken({ namespace: 'shop', serviceAccount: 'web', audiences: ['https://kubernetes.default.svc.cluster.local'] });
    const { csr } = makeCsr(`spiffe://${TD}/ns/shop/sa/web`);
    expect((await signError(live.client(), csr, { token })).code).toBe(status.UNAUTHENTICATED);
    await refusalLogged(live, 'wrong_audience');
  });

  it('--k8s-dns-san grants the webhook its Service DNS name', async () => {
    const token = await api.mintToken({ namespace: 'ztmesh-system', serviceAccount: 'ztmesh-webhook' });
    const { csr } = makeCsr(`spiffe://${TD}/ns/ztmesh-system/sa/ztmesh-webhook`, { dnsNames: ['ztmesh-webhook.ztmesh-system.svc'] });
    const leaf = new X509Certificate((await signCsr(live.client(), csr, { token })).certChain[0]!);
    expect(leaf.subjectAltName).toContain('DNS:ztmesh-webhook.ztmesh-system.svc');
    expect(leaf.subjectAltName).toContain(`URI:spiffe://${TD}/ns/ztmesh-system/sa/ztmesh-webhook`);
  });
});

// The CA never signs the trust domain's own ID, its own ID, or an ID in ztmesh-system, whoever vouches for the caller:
// a join token (refused early by `ca token create`, and at the CA for one that reached the store anyway), a renewal
// with a certificate for such an ID, a TokenReview for such a ServiceAccount. Each answers PERMISSION_DENIED with the
// code reserved_identity and one log line naming the peer. The ID granted by --grant-reserved-id (the webhook's) still works.
import * as grpc from '@grpc/grpc-js';
import { X509Certificate } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chainPem, expectStillServing, makeCsr, refusals, signCsr, signError, startCa, type TestCaServer } from '../helpers/ca.js';
import { issueFromCaDir } from '../helpers/ca-root.js';
import { runCli } from '../helpers/cli.js';
import { startFakeApiServer, type FakeApiServer } from '../helpers/fake-apiserver.js';

const TD = 'cluster.local';
const CA_ID = `spiffe://${TD}/ns/ztmesh-system/sa/ztmesh-ca`;
const OTHER_SYSTEM = `spiffe://${TD}/ns/ztmesh-system/sa/debug`;
const WEBHOOK = `spiffe://${TD}/ns/ztmesh-system/sa/ztmesh-webhook`;
let api: FakeApiServer;
let ca: TestCaServer;

beforeAll(async () => {
  api = await startFakeApiServer();
  ca = await startCa({
    trustDomain: TD,
    args: ['--k8s-token-review', '--k8s-api', api.url, '--k8s-ca-file', api.caFile, '--k8s-token-file', api.tokenFile,
      '--k8s-server-name', api.serverName, '--grant-reserved-id', 'ztmesh-system/ztmesh-webhook'],
  });
});
afterAll(async () => {
  await ca?.stop();
  await api?.close();
});

/** Expects PERMISSION_DENIED and a refusal line with code reserved_identity, the ID and the peer. */
async function expectReserved(err: grpc.ServiceError, id: string): Promise<void> {
  expect(err.code).toBe(grpc.status.PERMISSION_DENIED);
  expect(err.details).toContain('reserved');
  await ca.process.waitFor(new RegExp(`"code":"reserved_identity".*"spiffeId":"${id.replace(/[/.]/g, '\\$&')}"`), 10_000);
  const line = refusals(ca).find((l) => l.code === 'reserved_identity' && l.spiffeId === id)!;
  expect(String(line.peer)).toMatch(/^127\.0\.0\.1:\d+$/);
}

describe('reserved identities', () => {
  it('ca token create refuses the trust-domain ID, the CA ID and ztmesh-system IDs with reserved_identity', async () => {
    for (const id of [`spiffe://${TD}`, CA_ID, OTHER_SYSTEM]) {
      const r = await runCli(['ca', 'token', 'create', '--dir', ca.dir, '--spiffe-id', id]);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('reserved_identity');
      expect(r.stdout).toBe('');
    }
    // The CA's own ID cannot be granted at all; an ordinary ID needs no grant.
    const grantCa = await runCli(['ca', 'token', 'create', '--dir', ca.dir, '--spiffe-id', CA_ID, '--grant-reserved-id', CA_ID]);
    expect(grantCa.code).toBe(1);
    expect(grantCa.stderr).toContain('can never be granted');
    const ok = await runCli(['ca', 'token', 'create', '--dir', ca.dir, '--spiffe-id', `spiffe://${TD}/ns/default/sa/web`]);
    expect(ok.code).toBe(0);
  });

  it('a join token for a reserved ID that reached the store anyway is refused, and not used up', async () => {
    for (const id of [CA_ID, `spiffe://${TD}`]) {
      const token = await ca.mintToken(id);
      await expectReserved(await signError(ca.client(), makeCsr(id).csr, { token }), id);
      await expectReserved(await signError(ca.client(), makeCsr().csr, { token }), id);
    }
    await expectStillServing(ca);
  });

  it('a renewal with a certificate for a reserved ID (say, issued before the rule) is refused', async () => {
    const old = issueFromCaDir(ca.dir, OTHER_SYSTEM);
    const err = await signError(ca.client({ cert: old.certPem, key: old.keyPem }), makeCsr(OTHER_SYSTEM).csr);
    await expectReserved(err, OTHER_SYSTEM);
  });

  it('a TokenReview for the CA ServiceAccount or another ztmesh-system one is refused; the granted webhook is signed', async () => {
    const caToken = await api.mintToken({ namespace: 'ztmesh-system', serviceAccount: 'ztmesh-ca' });
    await expectReserved(await signError(ca.client(), makeCsr(CA_ID).csr, { token: caToken }), CA_ID);
    const otherToken = await api.mintToken({ namespace: 'ztmesh-system', serviceAccount: 'debug' });
    await expectReserved(await signError(ca.client(), makeCsr(OTHER_SYSTEM).csr, { token: otherToken }), OTHER_SYSTEM);

    const webhookToken = await api.mintToken({ namespace: 'ztmesh-system', serviceAccount: 'ztmesh-webhook' });
    const first = makeCsr(WEBHOOK);
    const res = await signCsr(ca.client(), first.csr, { token: webhookToken });
    expect(new X509Certificate(res.certChain[0]!).subjectAltName).toBe(`URI:${WEBHOOK}`);
    // A granted ID renews like any other.
    const renewed = await signCsr(ca.client({ cert: chainPem(res), key: first.keyPem }), makeCsr(WEBHOOK).csr);
    expect(new X509Certificate(renewed.certChain[0]!).subjectAltName).toBe(`URI:${WEBHOOK}`);
    expect(ca.process.output()).not.toContain(webhookToken);
  });
});

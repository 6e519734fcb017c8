// Per-identity token bucket: one identity past its burst gets RESOURCE_EXHAUSTED; others are still served.
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chainPem, expectStillServing, makeCsr, refusalLogged, signCsr, signError, startCa, type TestCaServer } from '../helpers/ca.js';

let ca: TestCaServer;
beforeAll(async () => { ca = await startCa({ args: ['--rate-limit', '0.01', '--rate-burst', '3'] }); });
afterAll(async () => { await ca.stop(); });

describe('ca refuses an identity over its rate limit', () => {
  it('answers RESOURCE_EXHAUSTED with code rate_limited after the burst, and keeps serving other identities', async () => {
    const id = `spiffe://${ca.trustDomain}/ns/default/sa/greedy`;
    const first = makeCsr(id);
    const res = await signCsr(ca.client(), first.csr, { token: await ca.mintToken(id) });
    const renewer = ca.client({ cert: chainPem(res), key: first.keyPem });
    await signCsr(renewer, makeCsr(id).csr);
    await signCsr(renewer, makeCsr(id).csr);
    const err = await signError(renewer, makeCsr(id).csr);
    expect(err.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(await refusalLogged(ca, 'rate_limited')).toMatchObject({ spiffeId: id });
    await expectStillServing(ca);
  });
});

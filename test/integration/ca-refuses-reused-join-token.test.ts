// A join token is single-use: the second SignCertificate with it is PERMISSION_DENIED, also when both race.
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectStillServing, makeCsr, refusalLogged, signError, startCa, type TestCaServer } from '../helpers/ca.js';

import { signCsr } from '../helpers/ca.js';

let ca: TestCaServer;
beforeAll(async () => { ca = await startCa(); });
afterAll(async () => { await ca.stop(); });

describe('ca refuses a reused join token', () => {
  it('signs once, then answers PERMISSION_DENIED with code token_reused, and keeps serving', async () => {
    const id = `spiffe://${ca.trustDomain}/ns/default/sa/web`;
    const token = await ca.mintToken(id);
    await signCsr(ca.client(), makeCsr(id).csr, { token });
    const err = await signError(ca.client(), makeCsr(id).csr, { token });
    expect(err.code).toBe(grpc.status.PERMISSION_DENIED);
    const line = await refusalLogged(ca, 'token_reused');
    expect(String(line.peer)).toMatch(/127\.0\.0\.1:\d+/);
    expect(ca.process.output()).not.toContain(token);
    await expectStillServing(ca);
  });

  it('lets exactly one of eight concurrent calls with the same token through', async () => {
    const id = `spiffe://${ca.trustDomain}/ns/default/sa/racer`;
    const token = await ca.mintToken(id);
    const results = await Promise.allSettled(Array.from({ length: 8 }, () => signCsr(ca.client(), makeCsr(id).csr, { token })));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    for (const r of results) if (r.status === 'rejected') expect((r.reason as grpc.ServiceError).code).toBe(grpc.status.PERMISSION_DENIED);
  });

  it('does not use up a token on a refused CSR', async () => {
    const id = `spiffe://${ca.trustDomain}/ns/default/sa/patient`;
    const token = await ca.mintToken(id);
    expect((await signError(ca.client(), Buffer.from('garbage'), { token })).code).toBe(grpc.status.INVALID_ARGUMENT);
    await signCsr(ca.client(), makeCsr(id).csr, { token });
  });
});


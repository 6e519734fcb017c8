// A SignCertificate call with neither a bearer token nor a client certificate is UNAUTHENTICATED.
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectStillServing, makeCsr, refusalLogged, signError, startCa, type TestCaServer } from '../helpers/ca.js';

let ca: TestCaServer;
beforeAll(async () => { ca = await startCa(); });
afterAll(async () => { await ca.stop(); });

describe('ca refuses a call without credential', () => {
  it('answers UNAUTHENTICATED, logs the peer and code no_credential, and keeps serving', async () => {
    const id = `spiffe://${ca.trustDomain}/ns/default/sa/web`;
    const err = await signError(ca.client(), makeCsr(id).csr);
    expect(err.code).toBe(grpc.status.UNAUTHENTICATED);
    const line = await refusalLogged(ca, 'no_credential');
    expect(String(line.peer)).toMatch(/127\.0\.0\.1:\d+/);
    await expectStillServing(ca);
  });

  it('answers UNAUTHENTICATED for an authorization header that is not a bearer token', async () => {
    const md = new grpc.Metadata();
    md.set('authorization', 'Basic Zm9vOmJhcg==');
    const err = await new Promise<grpc.ServiceError>((resolve) =>
      ca.client().SignCertificate({ csr: makeCsr().csr }, md, (e) => resolve(e!)));
    expect(err.code).toBe(grpc.status.UNAUTHENTICATED);
    await refusalLogged(ca, 'malformed_authorization');
    await expectStillServing(ca);
  });
});


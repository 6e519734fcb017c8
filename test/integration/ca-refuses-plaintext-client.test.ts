// A client speaking plaintext HTTP/2 to the TLS port gets no service (UNAVAILABLE); the CA logs the peer and keeps serving.
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectStillServing, makeCsr, signError, startCa, type TestCaServer } from '../helpers/ca.js';

let ca: TestCaServer;
beforeAll(async () => { ca = await startCa(); });
afterAll(async () => { await ca.stop(); });

describe('ca refuses a plaintext client', () => {
  it('fails the call with UNAVAILABLE, logs code not_tls with the peer, and keeps serving', async () => {
    const id = `spiffe://${ca.trustDomain}/ns/default/sa/web`;
    const err = await signError(ca.client({ plaintext: true }), makeCsr(id).csr, { token: await ca.mintToken(id) });
    expect(err.code).toBe(grpc.status.UNAVAILABLE);
    const line = JSON.parse(await ca.process.waitFor(/"code":"not_tls"/));
    expect(line.msg).toBe('connection refused');
    expect(String(line.peer)).toMatch(/127\.0\.0\.1:\d+/);
    await expectStillServing(ca);
  });
});

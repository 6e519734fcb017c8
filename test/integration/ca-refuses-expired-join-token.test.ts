// A join token past its expiry is UNAUTHENTICATED (minted already expired: no sleeping).
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectStillServing, makeCsr, refusalLogged, signError, startCa, type TestCaServer } from '../helpers/ca.js';

let ca: TestCaServer;
beforeAll(async () => { ca = await startCa(); });
afterAll(async () => { await ca.stop(); });

describe('ca refuses an expired join token', () => {
  it('answers UNAUTHENTICATED with code token_expired, and keeps serving', async () => {
    const id = `spiffe://${ca.trustDomain}/ns/default/sa/web`;
    const token = await ca.mintToken(id, { ttlMs: 60_000, nowMs: Date.now() - 120_000 });
    const err = await signError(ca.client(), makeCsr(id).csr, { token });
    expect(err.code).toBe(grpc.status.UNAUTHENTICATED);
    const line = await refusalLogged(ca, 'token_expired');
    expect(String(line.peer)).toMatch(/127\.0\.0\.1:\d+/);
    await expectStillServing(ca);
  });
});


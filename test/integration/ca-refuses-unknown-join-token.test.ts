// A join token this CA never minted (well formed or not) is UNAUTHENTICATED.
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectStillServing, makeCsr, refusalLogged, signError, startCa, type TestCaServer } from '../helpers/ca.js';

let ca: TestCaServer;
beforeAll(async () => { ca = await startCa(); });
afterAll(async () => { await ca.stop(); });

describe('ca refuses an unknown join token', () => {
  it('answers UNAUTHENTICATED with code unknown_token, never logs the token, and keeps serving', async () => {
    const id = `spiffe://${ca.trustDomain}/ns/default/sa/web`;
    for (const token of ['ztjt_' + 'A'.repeat(43), 'ztjt_short', 'not-a-join-token']) {
      const err = await signError(ca.client(), makeCsr(id).csr, { token });
      expect(err.code, token).toBe(grpc.status.UNAUTHENTICATED);
    }
    const line = await refusalLogged(ca, 'unknown_token');
    expect(String(line.peer)).toMatch(/127\.0\.0\.1:\d+/);
    expect(ca.process.output()).not.toContain('A'.repeat(43));
    await expectStillServing(ca);
  });
});


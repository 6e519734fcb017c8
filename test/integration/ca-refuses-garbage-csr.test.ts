// Bytes that are not a PKCS#10 CSR are INVALID_ARGUMENT.
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectStillServing, makeCsr, refusalLogged, signError, startCa, type TestCaServer } from '../helpers/ca.js';

let ca: TestCaServer;
beforeAll(async () => { ca = await startCa(); });
afterAll(async () => { await ca.stop(); });

describe('ca refuses garbage bytes as CSR', () => {
  it('answers INVALID_ARGUMENT with code malformed_csr for garbage, empty and truncated CSRs, and keeps serving', async () => {
    const id = `spiffe://${ca.trustDomain}/ns/default/sa/web`;
    const good = makeCsr(id).csr;
    for (const csr of [Buffer.from('this is not a CSR'), Buffer.alloc(0), good.subarray(0, good.length - 5), Buffer.from([0x30, 0x82, 0xff, 0xff])]) {
      const err = await signError(ca.client(), csr, { token: await ca.mintToken(id) });
      expect(err.code).toBe(grpc.status.INVALID_ARGUMENT);
    }
    const line = await refusalLogged(ca, 'malformed_csr');
    expect(line).toMatchObject({ spiffeId: id });
    expect(String(line.peer)).toMatch(/127\.0\.0\.1:\d+/);
    await expectStillServing(ca);
  });
});


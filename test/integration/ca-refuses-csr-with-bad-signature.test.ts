// A CSR whose self-signature does not verify (tampered after signing) is INVALID_ARGUMENT.
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectStillServing, makeCsr, refusalLogged, signError, startCa, type TestCaServer } from '../helpers/ca.js';

let ca: TestCaServer;
beforeAll(async () => { ca = await startCa(); });
afterAll(async () => { await ca.stop(); });

describe('ca refuses a CSR with a bad signature', () => {
  it('answers INVALID_ARGUMENT with code bad_csr_signature, and keeps serving', async () => {
    const id = `spiffe://${ca.trustDomain}/ns/default/sa/web`;
    const csr = Buffer.from(makeCsr(id).csr);
    csr[csr.length - 3] ^= 0x55; // flip bits inside the signature value
    const err = await signError(ca.client(), csr, { token: await ca.mintToken(id) });
    expect(err.code).toBe(grpc.status.INVALID_ARGUMENT);
    const line = await refusalLogged(ca, 'bad_csr_signature');
    expect(String(line.peer)).toMatch(/127\.0\.0\.1:\d+/);
    await expectStillServing(ca);
  });
});


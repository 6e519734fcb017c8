// A client certificate from a CA outside the trust bundle does not renew anything: UNAUTHENTICATED.
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeCa, makeLeaf } from '../helpers/pki.js';
import { expectStillServing, makeCsr, refusalLogged, signError, startCa, type TestCaServer } from '../helpers/ca.js';

let ca: TestCaServer;
beforeAll(async () => { ca = await startCa(); });
afterAll(async () => { await ca.stop(); });

describe('ca refuses renewal with a certificate from a foreign CA', () => {
  it('answers UNAUTHENTICATED with code renewal_untrusted_chain, and keeps serving', async () => {
    const id = `spiffe://${ca.trustDomain}/ns/default/sa/web`;
    const foreign = makeCa(ca.trustDomain); // same trust domain name, different key: still foreign
    const leaf = makeLeaf(foreign, id);
    const err = await signError(ca.client({ cert: leaf.certPem, key: leaf.keyPem }), makeCsr(id).csr);
    expect(err.code).toBe(grpc.status.UNAUTHENTICATED);
    const line = await refusalLogged(ca, 'renewal_untrusted_chain');
    expect(String(line.peer)).toMatch(/127\.0\.0\.1:\d+/);
    await expectStillServing(ca);
  });
});

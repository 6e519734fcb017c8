// A CSR asking for a URI SAN other than the attested SPIFFE ID is PERMISSION_DENIED; the CA sets the SAN itself.
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectStillServing, makeCsr, refusalLogged, signError, startCa, type TestCaServer } from '../helpers/ca.js';

import { X509Certificate } from 'node:crypto';
import { signCsr } from '../helpers/ca.js';

let ca: TestCaServer;
beforeAll(async () => { ca = await startCa(); });
afterAll(async () => { await ca.stop(); });

describe('ca refuses a CSR naming another identity', () => {
  it('answers PERMISSION_DENIED with code identity_mismatch, and keeps serving', async () => {
    const id = `spiffe://${ca.trustDomain}/ns/default/sa/web`;
    const other = `spiffe://${ca.trustDomain}/ns/kube-system/sa/admin`;
    const err = await signError(ca.client(), makeCsr(id, { uris: [other] }).csr, { token: await ca.mintToken(id) });
    expect(err.code).toBe(grpc.status.PERMISSION_DENIED);
    const line = await refusalLogged(ca, 'identity_mismatch');
    expect(line).toMatchObject({ spiffeId: id });
    expect(String(line.peer)).toMatch(/127\.0\.0\.1:\d+/);
    const both = await signError(ca.client(), makeCsr(id, { uris: [id, other] }).csr, { token: await ca.mintToken(id) });
    expect(both.code).toBe(grpc.status.PERMISSION_DENIED);
    await expectStillServing(ca);
  });

  it('puts the attested ID in a CSR that asks for no SAN, and drops DNS names nobody granted', async () => {
    const id = `spiffe://${ca.trustDomain}/ns/default/sa/quiet`;
    const res = await signCsr(ca.client(), makeCsr(undefined, { dnsNames: ['evil.example.com'] }).csr, { token: await ca.mintToken(id) });
    expect(new X509Certificate(res.certChain[0]!).subjectAltName).toBe(`URI:${id}`);
  });
});


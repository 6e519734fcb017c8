// Renewal without any token: a client presenting its current SVID as TLS client certificate gets a new one for the same ID.
import { X509Certificate } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chainPem, makeCsr, refusalLogged, signCsr, signError, startCa, type TestCaServer } from '../helpers/ca.js';

let ca: TestCaServer;
beforeAll(async () => { ca = await startCa(); });
afterAll(async () => { await ca.stop(); });

describe('ca renews an SVID with the current certificate', () => {
  it('issues a fresh SVID for the same ID, with a new key, to a caller holding only its SVID', async () => {
    const id = `spiffe://${ca.trustDomain}/ns/default/sa/web`;
    const first = makeCsr(id);
    const res1 = await signCsr(ca.client(), first.csr, { token: await ca.mintToken(id) });
    const second = makeCsr(id);
    const renewer = ca.client({ cert: chainPem(res1), key: first.keyPem });
    const res2 = await signCsr(renewer, second.csr);
    const [a, b] = [new X509Certificate(res1.certChain[0]!), new X509Certificate(res2.certChain[0]!)];
    expect(b.subjectAltName).toBe(`URI:${id}`);
    expect(b.serialNumber).not.toBe(a.serialNumber);
    expect(b.publicKey.export({ format: 'der', type: 'spki' }).equals(a.publicKey.export({ format: 'der', type: 'spki' }))).toBe(false);
    const audit = JSON.parse(await ca.process.waitFor(new RegExp(`"serial":"${b.serialNumber.toLowerCase()}"`)));
    expect(audit.method).toBe('renewal');

    // The renewed SVID renews in turn.
    const third = makeCsr(id);
    const res3 = await signCsr(ca.client({ cert: chainPem(res2), key: second.keyPem }), third.csr);
    expect(new X509Certificate(res3.certChain[0]!).subjectAltName).toBe(`URI:${id}`);
  });

  it('refuses a renewal CSR for another ID with PERMISSION_DENIED', async () => {
    const id = `spiffe://${ca.trustDomain}/ns/default/sa/api`;
    const first = makeCsr(id);
    const res = await signCsr(ca.client(), first.csr, { token: await ca.mintToken(id) });
    const err = await signError(ca.client({ cert: chainPem(res), key: first.keyPem }), makeCsr(`spiffe://${ca.trustDomain}/ns/default/sa/db`).csr);
    expect(err.code).toBe(grpc.status.PERMISSION_DENIED);
    expect(await refusalLogged(ca, 'identity_mismatch')).toMatchObject({ spiffeId: id });
  });
});

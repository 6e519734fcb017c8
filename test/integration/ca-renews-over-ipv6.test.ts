// A CA listening on IPv6 renews with the caller's certificate too. The front door keys what TLS verified by the
// peer as grpc-js names it ("::1:port", no brackets); keyed by "[::1]:port" a renewal over IPv6 found no certificate.
import * as grpc from '@grpc/grpc-js';
import { X509Certificate } from 'node:crypto';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chainPem, makeCsr, refusalLogged, signCsr, signError, startCa, type TestCaServer } from '../helpers/ca.js';
import { makeCa, makeLeaf } from '../helpers/pki.js';

const NO_V6 = await new Promise<string | undefined>((resolve) => {
  const probe = net.createServer();
  probe.once('error', (e) => resolve(`cannot listen on [::1] here: ${e.message}`));
  probe.listen(0, '::1', () => probe.close(() => resolve(undefined)));
});
if (NO_V6) console.warn(`skipping the IPv6 renewal test: ${NO_V6}`);

let ca: TestCaServer;
beforeAll(async () => { if (!NO_V6) ca = await startCa({ args: ['--listen', '[::1]:0'] }); });
afterAll(async () => { await ca?.stop(); });

describe.skipIf(NO_V6)('ca on IPv6', () => {
  it('renews with the current certificate over ::1, and still refuses a foreign one', async () => {
    expect(ca.address).toMatch(/^\[::1\]:\d+$/);
    const id = `spiffe://${ca.trustDomain}/ns/default/sa/web`;
    const first = makeCsr(id);
    const res = await signCsr(ca.client(), first.csr, { token: await ca.mintToken(id) });
    const renewed = await signCsr(ca.client({ cert: chainPem(res), key: first.keyPem }), makeCsr(id).csr);
    expect(new X509Certificate(renewed.certChain[0]!).subjectAltName).toBe(`URI:${id}`);
    const foreign = makeLeaf(makeCa(ca.trustDomain), id);
    const err = await signError(ca.client({ cert: foreign.certPem, key: foreign.keyPem }), makeCsr(id).csr);
    expect(err.code).toBe(grpc.status.UNAUTHENTICATED);
    // The CA's log is asynchronous: wait for the line rather than reading it the moment the call failed.
    expect(await refusalLogged(ca, 'renewal_untrusted_chain')).toMatchObject({ code: 'renewal_untrusted_chain' });
  });
});

// A client certificate that chains to the bundle but has expired does not renew: UNAUTHENTICATED.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadIssuer, loadPrivateKey, certsFromPem, issueSvid, spkiOf, generateKeySync, privateKeyPem, toPem } from '../../src/pki/index.js';
import { expectStillServing, makeCsr, refusalLogged, signError, startCa, type TestCaServer } from '../helpers/ca.js';

let ca: TestCaServer;
beforeAll(async () => { ca = await startCa(); });
afterAll(async () => { await ca.stop(); });

describe('ca refuses renewal with an expired certificate', () => {
  it('answers UNAUTHENTICATED with code renewal_cert_expired, and keeps serving', async () => {
    const id = `spiffe://${ca.trustDomain}/ns/default/sa/web`;
    // Signed by the CA's own key, valid for one hour two hours ago.
    const issuer = loadIssuer(certsFromPem(readFileSync(join(ca.dir, 'ca.pem'), 'utf8'), 'ca.pem')[0]!, loadPrivateKey(readFileSync(join(ca.dir, 'ca.key')), 'ca.key'));
    const key = generateKeySync();
    const old = issueSvid({ spki: spkiOf(key), spiffeId: id, nowMs: Date.now() - 2 * 3_600_000, ttlMs: 3_600_000 }, issuer);
    const err = await signError(ca.client({ cert: toPem(old.der), key: privateKeyPem(key) }), makeCsr(id).csr);
    expect(err.code).toBe(grpc.status.UNAUTHENTICATED);
    const line = await refusalLogged(ca, 'renewal_cert_expired');
    expect(String(line.peer)).toMatch(/127\.0\.0\.1:\d+/);
    await expectStillServing(ca);
  });
});

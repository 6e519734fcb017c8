// A CSR for an RSA-1024 key is INVALID_ARGUMENT (key allow-list: P-256, P-384, RSA >= 2048).
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectStillServing, makeCsr, refusalLogged, signError, startCa, type TestCaServer } from '../helpers/ca.js';

import { createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { buildCsr } from '../../src/pki/index.js';
import { signCsr } from '../helpers/ca.js';

let ca: TestCaServer;
beforeAll(async () => { ca = await startCa(); });
afterAll(async () => { await ca.stop(); });

describe('ca refuses an RSA-1024 key', () => {
  it('answers INVALID_ARGUMENT with code weak_key, and keeps serving', async () => {
    const id = `spiffe://${ca.trustDomain}/ns/default/sa/legacy`;
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 1024 });
    const err = await signError(ca.client(), buildCsr(createPrivateKey(privateKey.export({ format: 'pem', type: 'pkcs8' })), { uris: [id] }), { token: await ca.mintToken(id) });
    expect(err.code).toBe(grpc.status.INVALID_ARGUMENT);
    const line = await refusalLogged(ca, 'weak_key');
    expect(String(line.peer)).toMatch(/127\.0\.0\.1:\d+/);
    await expectStillServing(ca);
  });

  it('signs RSA-2048 and P-384 keys', async () => {
    const id = `spiffe://${ca.trustDomain}/ns/default/sa/modern`;
    for (const alg of ['rsa-2048', 'ec-p384'] as const) {
      const res = await signCsr(ca.client(), makeCsr(id, { alg }).csr, { token: await ca.mintToken(id) });
      expect(res.certChain).toHaveLength(1);
    }
  });
});


// Two CA replicas serving the same --dir: a join token used at one is refused at the other, also when both race.
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initCa, makeCsr, signCsr, signError, startCa, type TestCaServer } from '../helpers/ca.js';

let a: TestCaServer;
let b: TestCaServer;
beforeAll(async () => {
  const dir = await initCa();
  [a, b] = await Promise.all([startCa({ dir }), startCa({ dir })]);
});
afterAll(async () => { await Promise.all([a.stop(), b.stop()]); });

describe('join tokens are single-use across replicas', () => {
  it('refuses at replica B a token used at replica A with PERMISSION_DENIED', async () => {
    const id = `spiffe://${a.trustDomain}/ns/default/sa/web`;
    const token = await a.mintToken(id);
    await signCsr(a.client(), makeCsr(id).csr, { token });
    expect((await signError(b.client(), makeCsr(id).csr, { token })).code).toBe(grpc.status.PERMISSION_DENIED);
  });

  it('lets exactly one of two replicas win a race for the same token', async () => {
    const id = `spiffe://${a.trustDomain}/ns/default/sa/racer`;
    for (let round = 0; round < 5; round++) {
      const token = await a.mintToken(id);
      const results = await Promise.allSettled([a, b, a, b].map((ca) => signCsr(ca.client(), makeCsr(id).csr, { token })));
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    }
  });
});

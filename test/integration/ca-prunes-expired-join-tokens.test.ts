// `ztmesh ca serve` prunes join-token records (used and unused) whose token expired more than 10 minutes ago, at start
// and every 10 minutes; live tokens and files it did not write stay, and a pruned token is still refused.
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, describe, expect, it } from 'vitest';
import { JoinTokenStore, tokenHash } from '../../src/ca/attestors/join-tokens.js';
import { initCa, makeCsr, signCsr, signError, startCa, type TestCaServer } from '../helpers/ca.js';

const ID = 'spiffe://example.org/ns/default/sa/web';
let ca: TestCaServer | undefined;
afterAll(async () => { await ca?.stop(); });

describe('ca prunes expired join tokens', () => {
  it('removes expired used and unused records at start, keeps the rest', async () => {
    const dir = await initCa();
    const store = new JoinTokenStore(dir);
    const longAgo = Date.now() - 2 * 3_600_000;
    const expiredUnused = (await store.create(ID, 60_000, longAgo)).token;
    const expiredUsed = (await store.create(ID, 60_000, longAgo)).token;
    await store.consume((await store.check(expiredUsed, longAgo)).hash);
    const live = (await store.create(ID, 3_600_000, Date.now())).token;
    writeFileSync(join(dir, 'tokens', 'README'), 'not ztmesh\'s');

    ca = await startCa({ dir });
    const line = JSON.parse(await ca.process.waitFor(/"msg":"expired join tokens pruned"/)) as { removed: number };
    expect(line.removed).toBe(2);
    expect(existsSync(join(dir, 'tokens', `${tokenHash(expiredUnused)}.json`))).toBe(false);
    expect(readdirSync(join(dir, 'tokens', 'used'))).toEqual([]);
    expect(existsSync(join(dir, 'tokens', 'README'))).toBe(true);

    const refused = await signError(ca.client(), makeCsr(ID).csr, { token: expiredUsed });
    expect(refused.code).toBe(grpc.status.UNAUTHENTICATED);
    expect((await signCsr(ca.client(), makeCsr(ID).csr, { token: live })).certChain.length).toBeGreaterThan(0);
  });
});

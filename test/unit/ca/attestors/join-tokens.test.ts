// Join tokens: only a hash on disk, single use (also under concurrent consumers), expiry by clock time.
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { JoinTokenStore, PRUNE_GRACE_MS, tokenHash, isJoinToken } from '../../../../src/ca/attestors/join-tokens.js';
import { tempDir } from '../../../helpers/temp-dir.js';

const ID = 'spiffe://example.org/ns/default/sa/web';
const T0 = Date.UTC(2026, 0, 1);
const fresh = () => {
  const dir = tempDir('ztmesh-jt-');
  return { dir, store: new JoinTokenStore(dir) };
};

describe('JoinTokenStore', () => {
  it('stores only the hash, mode 0600, and finds the token again', async () => {
    const { dir, store } = fresh();
    const { token } = await store.create(ID, 60_000, T0);
    expect(isJoinToken(token)).toBe(true);
    const files = readdirSync(join(dir, 'tokens')).filter((f) => f.endsWith('.json'));
    expect(files).toEqual([`${tokenHash(token)}.json`]);
    const content = readFileSync(join(dir, 'tokens', files[0]!), 'utf8');
    expect(content).not.toContain(token);
    expect(content).not.toContain(token.slice(5));
    expect(statSync(join(dir, 'tokens', files[0]!)).mode & 0o777).toBe(0o600);
    expect((await store.check(token, T0)).record.spiffeId).toBe(ID);
  });

  it('expires at expiresAt (clock time, no sleeping)', async () => {
    const { store } = fresh();
    const { token } = await store.create(ID, 60_000, T0);
    await expect(store.check(token, T0 + 59_999)).resolves.toBeDefined();
    await expect(store.check(token, T0 + 60_000)).rejects.toMatchObject({ code: 'token_expired' });
  });

  it('is single-use: consume once, then token_reused on check and on consume', async () => {
    const { store } = fresh();
    const { token } = await store.create(ID, 60_000, T0);
    const { hash } = await store.check(token, T0);
    await store.consume(hash);
    await expect(store.check(token, T0)).rejects.toMatchObject({ code: 'token_reused' });
    await expect(store.consume(hash)).rejects.toMatchObject({ code: 'token_reused' });
  });

  it('lets exactly one of many concurrent consumers (two stores on one dir, like two replicas) win', async () => {
    const { dir, store } = fresh();
    const other = new JoinTokenStore(dir);
    const { token } = await store.create(ID, 60_000, T0);
    const { hash } = await store.check(token, T0);
    const results = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => (i % 2 ? store : other).consume(hash)));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    for (const r of results) if (r.status === 'rejected') expect(r.reason).toMatchObject({ code: 'token_reused' });
  });

  it('says unknown_token for tokens it never minted, well formed or not', async () => {
    const { store } = fresh();
    await expect(store.check(`ztjt_${'x'.repeat(43)}`, T0)).rejects.toMatchObject({ code: 'unknown_token' });
    await expect(store.check('ztjt_../../etc/passwd', T0)).rejects.toMatchObject({ code: 'unknown_token' });
  });

  it('prunes used and unused records once expired past the grace, and nothing else, safely from two replicas', async () => {
    const { dir, store } = fresh();
    const other = new JoinTokenStore(dir);
    const unused = (await store.create(ID, 60_000, T0)).token;
    const used = (await store.create(ID, 60_000, T0)).token;
    await store.consume((await store.check(used, T0)).hash);
    const fresher = (await store.create(ID, 3_600_000, T0)).token;
    writeFileSync(join(dir, 'tokens', 'notes.txt'), 'mine');
    writeFileSync(join(dir, 'tokens', `${'a'.repeat(64)}.json`), 'not json');
    const files = () => [...readdirSync(join(dir, 'tokens')), ...readdirSync(join(dir, 'tokens', 'used')).map((f) => `used/${f}`)].sort();

    expect(await store.prune(T0 + 60_000 + PRUNE_GRACE_MS - 1)).toBe(0);
    const removed = await Promise.all([store.prune(T0 + 60_000 + PRUNE_GRACE_MS), other.prune(T0 + 60_000 + PRUNE_GRACE_MS)]);
    expect(removed[0]! + removed[1]!).toBe(2);
    expect(files()).toEqual([`${'a'.repeat(64)}.json`, `${tokenHash(fresher)}.json`, 'notes.txt', 'used'].sort());
    // Pruned tokens stay refused; the live one still works.
    await expect(store.check(unused, T0 + 60_000 + PRUNE_GRACE_MS)).rejects.toMatchObject({ code: 'unknown_token' });
    await expect(store.check(used, T0)).rejects.toMatchObject({ code: 'unknown_token' });
    await expect(store.check(fresher, T0 + 60_000 + PRUNE_GRACE_MS)).resolves.toBeDefined();
  });

  it('prunes nothing, without failing, where there is no tokens directory', async () => {
    expect(await new JoinTokenStore(tempDir('ztmesh-jt-')).prune(T0)).toBe(0);
  });
});

// Announced addresses: meshed until the announcer's last certificate expires (extended by each issuance while its
// stream announces them), kept on disk, merged from another replica's writes, bounded per ID. Fake clock, temp dir.
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ANNOUNCED_DIR, Announcements, MAX_ADDRESSES_PER_ID, announcedDestination } from '../../../../src/ca/mesh/announcements.js';
import { MembershipKind } from '../../../../src/ca/mesh/membership-kind.js';
import { captureLogger } from '../../../helpers/capture-logger.js';
import { FakeClock } from '../../../helpers/fake-clock.js';

const dirs: string[] = [];
afterEach(() => { for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true }); });
const ID = 'spiffe://example.org/ns/a/sa/web';

async function setup(dir = mkdtempSync(join(tmpdir(), 'ztmesh-ann-'))) {
  dirs.push(dir);
  const clock = new FakeClock();
  const membership = new MembershipKind('i');
  const a = new Announcements({ dir, writer: membership, clock, log: captureLogger().logger, pollMs: 1000 });
  await a.start();
  return { dir, clock, membership, a };
}
const settle = (a: Announcements) => a.flushed();

describe('Announcements', () => {
  it('an address stays meshed until the certificate it was announced under expires, extended by issuance', async () => {
    const { clock, membership, a } = await setup();
    a.announce(ID, ['10.0.0.7'], clock.now() + 60_000);
    expect(membership.set.get(announcedDestination(ID, '10.0.0.7').key)).toMatchObject({ identities: [ID] });
    await clock.advance(50_000);
    a.extend(ID, ['10.0.0.7'], clock.now() + 60_000);
    await clock.advance(59_000);
    expect(membership.set.size).toBe(1);
    await clock.advance(1_000);
    expect(membership.set.size).toBe(0);
    a.close();
  });

  it('keeps addresses in the state directory, and a second replica reads and merges them', async () => {
    const one = await setup();
    one.a.announce(ID, ['10.0.0.7', 'fd00::7'], one.clock.now() + 600_000);
    await settle(one.a);
    expect(readdirSync(join(one.dir, ANNOUNCED_DIR))).toHaveLength(1);
    const two = await setup(one.dir);
    expect([...two.membership.set.keys()].sort()).toEqual([announcedDestination(ID, '10.0.0.7').key, announcedDestination(ID, 'fd00::7').key].sort());
    one.a.announce(ID, ['10.0.0.8'], one.clock.now() + 600_000);
    await settle(one.a);
    await two.a.readOthers();
    expect(two.membership.set.get(announcedDestination(ID, '10.0.0.8').key)).toBeDefined();
    one.a.close();
    two.a.close();
  });

  it('refuses a file that is not its own ID\'s, and bounds the addresses of one ID', async () => {
    const { dir, clock, membership, a } = await setup();
    writeFileSync(join(dir, ANNOUNCED_DIR, `${'0'.repeat(64)}.json`), JSON.stringify({ spiffeId: ID, addresses: { '10.9.9.9': clock.now() + 1e6 } }));
    await a.readOthers();
    expect(membership.set.size).toBe(0);
    const many = Array.from({ length: MAX_ADDRESSES_PER_ID + 10 }, (_, i) => `10.1.${i >> 8}.${(i & 255) + 1}`);
    for (let i = 0; i < many.length; i += 16) a.announce(ID, many.slice(i, i + 16), clock.now() + 1000 + i);
    await settle(a);
    expect(a.snapshot().length).toBe(MAX_ADDRESSES_PER_ID);
    a.close();
  });
});

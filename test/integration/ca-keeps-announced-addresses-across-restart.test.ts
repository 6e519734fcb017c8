// Announced addresses do not flap with a stream: when the announcing sidecar's stream ends its addresses stay
// meshed, and a CA restarted on the same state directory serves them again (with the announcer's ID, never one the
// sidecar named), until the announcer's last certificate expires.
import { afterAll, describe, expect, it } from 'vitest';
import { startCa, type TestCaServer } from '../helpers/ca.js';
import { openMesh, svidFor } from '../helpers/mesh-stream.js';

let ca: TestCaServer | undefined;
const announcer = 'spiffe://example.org/ns/default/sa/announcer';
const reader = 'spiffe://example.org/ns/default/sa/reader';

async function membershipKeys(server: TestCaServer) {
  const s = openMesh(server, await svidFor(server, reader));
  s.subscribe(['membership']);
  const snap = await s.next();
  s.cancel();
  return snap.membership!.upsert.map((d) => ({ cidr: d.cidrs[0], ids: d.identities }));
}

describe('announced addresses', () => {
  afterAll(async () => { await ca?.stop(); });

  it('stay meshed after the stream ends and after a CA restart, with the announcer\'s ID', async () => {
    ca = await startCa();
    const svid = await svidFor(ca, announcer, 3600);
    const s = openMesh(ca, svid);
    s.subscribe(['membership'], ['10.50.0.7', 'fd00:50::7']);
    const snap = await s.next();
    expect(snap.membership!.upsert.map((d) => d.cidrs[0]).sort()).toEqual(['10.50.0.7/32', 'fd00:50::7/128']);
    s.cancel();
    const want = [{ cidr: '10.50.0.7/32', ids: [announcer] }, { cidr: 'fd00:50::7/128', ids: [announcer] }];
    expect(await membershipKeys(ca)).toEqual(expect.arrayContaining(want));
    const dir = ca.dir;
    await ca.stop();
    ca = await startCa({ dir });
    expect(await membershipKeys(ca)).toEqual(expect.arrayContaining(want));
  });
});

// The SVID kept in identity.stateDir: written with the key 0600 and atomically, and on restart the manager starts
// from it while it is valid and renews with it (not the token); an expired or mismatched one falls back to the token.
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/common/logger.js';
import { CaReachability } from '../../../src/identity/ca-reachability.js';
import { makeTrustBundle } from '../../../src/identity/credentials.js';
import { IdentityManager } from '../../../src/identity/manager.js';
import { SVID_FILES, SvidStore } from '../../../src/identity/svid-store.js';
import { generateKeySync } from '../../../src/pki/index.js';
import { FakeCaClient } from '../../helpers/fake-ca-client.js';
import { FakeClock } from '../../helpers/fake-clock.js';
import { makeCa } from '../../helpers/pki.js';
import { tempDir } from '../../helpers/temp-dir.js';

const TTL = 3_600_000;

function sidecar(clock: FakeClock, ca: ReturnType<typeof makeCa>, dir: string) {
  const client = new FakeCaClient(ca, clock);
  const manager = new IdentityManager({
    client, clock, log: silentLogger(), trustDomain: 'cluster.local', ttlMs: TTL,
    bootstrapBundle: makeTrustBundle('cluster.local', [ca.certDer], 0), reachability: new CaReachability(clock, '127.0.0.1:1'),
    random: () => 0.5, generateKey: async () => generateKeySync('ec-p256'), store: new SvidStore(dir),
  });
  return { client, manager };
}

/** Lets the store's file I/O (real, not on the fake clock) finish. */
const io = () => new Promise((r) => setTimeout(r, 50));

describe('SVID kept in the state directory', () => {
  const clock = new FakeClock();
  const ca = makeCa('cluster.local', clock.now() - 86_400_000, 10 * 365 * 86_400_000);

  it('is written after each rotation: key 0600, chain beside it, no temp files left', async () => {
    const dir = tempDir('ztmesh-state-');
    await new SvidStore(dir).prepare();
    const { manager } = sidecar(clock, ca, dir);
    manager.start();
    await clock.advance(0);
    await io();
    const svid = manager.current().svid!;
    expect(statSync(join(dir, SVID_FILES.key)).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(dir, SVID_FILES.key), 'utf8')).toBe(svid.keyPem);
    expect(readFileSync(join(dir, SVID_FILES.chain), 'utf8')).toBe(svid.chainPem);
    expect(readdirSync(dir).sort()).toEqual([SVID_FILES.chain, SVID_FILES.key].sort());
    manager.stop();
  });

  it('after a restart: available at once with the kept SVID, renewed with it, not with the token', async () => {
    const dir = tempDir('ztmesh-state-');
    const first = sidecar(clock, ca, dir);
    first.manager.start();
    await clock.advance(0);
    await io();
    const kept = first.manager.current().svid!;
    first.manager.stop();

    await clock.advance(60_000);
    const second = sidecar(clock, ca, dir);
    const states: string[] = [];
    second.manager.subscribe((s) => { if (states.at(-1) !== s.state) states.push(s.state); });
    second.manager.start();
    await clock.advance(0);
    await io();
    expect(second.client.calls.map((c) => c.auth)).toEqual(['svid']);
    expect(states).toEqual(['initializing', 'available', 'renewing', 'available']);
    expect(second.manager.current().svid!.serialHex).not.toBe(kept.serialHex);
    expect(readFileSync(join(dir, SVID_FILES.chain), 'utf8')).toBe(second.manager.current().svid!.chainPem);
    second.manager.stop();
  });

  it('an expired kept SVID, or a key that does not match it, falls back to the token', async () => {
    const dir = tempDir('ztmesh-state-');
    const first = sidecar(clock, ca, dir);
    first.manager.start();
    await clock.advance(0);
    await io();
    first.manager.stop();
    await clock.advance(TTL + 1);
    const late = sidecar(clock, ca, dir);
    late.manager.start();
    await clock.advance(0);
    await io();
    expect(late.client.calls.map((c) => c.auth)).toEqual(['token']);
    late.manager.stop();

    writeFileSync(join(dir, SVID_FILES.key), (await import('../../../src/pki/index.js')).privateKeyPem(generateKeySync('ec-p256')), { mode: 0o600 });
    const mismatched = sidecar(clock, ca, dir);
    mismatched.manager.start();
    await io();
    await clock.advance(0);
    await io();
    expect(mismatched.client.calls.map((c) => c.auth)).toEqual(['token']);
    mismatched.manager.stop();
  });

  it('prepare() refuses a state directory it cannot use, naming identity.stateDir', async () => {
    const file = join(tempDir('ztmesh-state-'), 'file');
    writeFileSync(file, 'x');
    await expect(new SvidStore(file).prepare()).rejects.toMatchObject({ code: 'state_dir_unusable', message: expect.stringContaining(`identity.stateDir "${file}"`) });
  });
});

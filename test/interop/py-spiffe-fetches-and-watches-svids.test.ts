// py-spiffe (not written by us) against a real sidecar's Workload API: stream_x509_contexts gets the SVID at once and
// a new one (a new key) after each forced rotation, never the same key twice; fetch_jwt_svid's token validates with
// JwtSvid.parse_and_validate against the bundle from fetch_jwt_bundles.
import { describe, expect, it } from 'vitest';
import { PYTHON_CLIENT, runTool } from '../helpers/interop.js';
import { LineProcess } from '../helpers/line-process.js';
import { WEB_ID } from '../helpers/sidecar.js';
import { workloadApiSidecarForSuite } from '../helpers/workload-api.js';

const suite = workloadApiSidecarForSuite({ tool: 'python' });
const ROTATIONS = 3;

describe('py-spiffe WorkloadApiClient', () => {
  it('stream_x509_contexts gets the SVID at once, then one new SVID with a new key per POST /rotate, never a key twice', async () => {
    const watcher = new LineProcess([suite.tool, PYTHON_CLIENT, 'x509', String(ROTATIONS + 1)], { SPIFFE_ENDPOINT_SOCKET: suite.wl.endpoint });
    try {
      await watcher.waitFor(/"serial"/);
      for (let i = 0; i < ROTATIONS; i++) expect((await suite.wl.sidecar.rotate()).status).toBe(200);
      expect(await watcher.exited, watcher.output()).toBe(0);
      const seen = watcher.json().filter((l) => l.serial);
      const held = (await suite.wl.sidecar.status()).identity.history.slice(-(ROTATIONS + 1));
      expect(seen).toEqual(held.map((h) => ({ spiffeId: WEB_ID, serial: h.serial.replace(/^0+/, ''), publicKeySha256: h.publicKeySha256 })));
      expect(new Set(seen.map((l) => l.publicKeySha256)).size).toBe(ROTATIONS + 1);
    } finally {
      await watcher.stop();
    }
  });

  it('fetch_jwt_svid gives a token that parse_and_validate accepts with the fetch_jwt_bundles bundle', async () => {
    const r = await runTool([suite.tool, PYTHON_CLIENT, 'jwt', 'orders'], { SPIFFE_ENDPOINT_SOCKET: suite.wl.endpoint });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.json[0]).toMatchObject({ spiffeId: WEB_ID, validatedId: WEB_ID });
    expect((r.json[0]!.bundleKeys as string[]).length).toBeGreaterThanOrEqual(2); // the key in use and the next one
  });
});

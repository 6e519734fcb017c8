// py-spiffe (not written by us) against a real sidecar's Workload API: stream_x509_contexts gets the SVID at once and a
// new one (a new key) after a forced rotation; fetch_jwt_svid's token validates with JwtSvid.parse_and_validate
// against the bundle from fetch_jwt_bundles.
import { describe, expect, it } from 'vitest';
import { PYTHON_CLIENT, runTool } from '../helpers/interop.js';
import { LineProcess } from '../helpers/line-process.js';
import { WEB_ID } from '../helpers/sidecar.js';
import { workloadApiSidecarForSuite } from '../helpers/workload-api.js';

const suite = workloadApiSidecarForSuite({ tool: 'python' });

describe('py-spiffe WorkloadApiClient', () => {
  it('stream_x509_contexts gets the SVID at once, then a new SVID with a new key after POST /rotate', async () => {
    const watcher = new LineProcess([suite.tool, PYTHON_CLIENT, 'x509', '2'], { SPIFFE_ENDPOINT_SOCKET: suite.wl.endpoint });
    try {
      await watcher.waitFor(/"serial"/);
      const before = await suite.wl.sidecar.status();
      expect((await suite.wl.sidecar.rotate()).status).toBe(200);
      expect(await watcher.exited, watcher.output()).toBe(0);
      const [first, second] = watcher.json();
      expect(first).toEqual({ spiffeId: WEB_ID, serial: before.identity.serial!.replace(/^0+/, ''), publicKeySha256: before.identity.publicKeySha256 });
      expect(second).toMatchObject({ spiffeId: WEB_ID, publicKeySha256: (await suite.wl.sidecar.status()).identity.publicKeySha256 });
      expect(second!.publicKeySha256).not.toBe(first!.publicKeySha256);
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

// go-spiffe v2 (not written by us) against a real sidecar's Workload API: its X.509 watcher gets the SVID at once and a
// new one (a new key) after a forced rotation; FetchJWTSVID's token validates with jwtsvid.ParseAndValidate against
// the bundle from FetchJWTBundles, and the same token fails for another audience.
import { describe, expect, it } from 'vitest';
import { runTool } from '../helpers/interop.js';
import { LineProcess } from '../helpers/line-process.js';
import { WEB_ID } from '../helpers/sidecar.js';
import { workloadApiSidecarForSuite } from '../helpers/workload-api.js';

const suite = workloadApiSidecarForSuite({ tool: 'go' });

describe('go-spiffe v2 workloadapi', () => {
  it('WatchX509Context gets the SVID at once, then a new SVID with a new key after POST /rotate', async () => {
    const watcher = new LineProcess([suite.tool, 'x509', '-n', '2'], { SPIFFE_ENDPOINT_SOCKET: suite.wl.endpoint });
    try {
      await watcher.waitFor(/"serial"/);
      const before = await suite.wl.sidecar.status();
      expect((await suite.wl.sidecar.rotate()).status).toBe(200);
      expect(await watcher.exited).toBe(0);
      const [first, second] = watcher.json();
      expect(first).toMatchObject({ spiffeId: WEB_ID, serial: before.identity.serial!.replace(/^0+/, ''), publicKeySha256: before.identity.publicKeySha256, roots: 1 });
      const after = await suite.wl.sidecar.status();
      expect(second).toMatchObject({ spiffeId: WEB_ID, serial: after.identity.serial!.replace(/^0+/, ''), publicKeySha256: after.identity.publicKeySha256 });
      expect(second!.publicKeySha256).not.toBe(first!.publicKeySha256);
    } finally {
      await watcher.stop();
    }
  });

  it('FetchJWTSVID gives a token that jwtsvid.ParseAndValidate accepts with the FetchJWTBundles bundle, and refuses for another audience', async () => {
    const env = { SPIFFE_ENDPOINT_SOCKET: suite.wl.endpoint };
    const r = await runTool([suite.tool, 'jwt', '-aud', 'db', '-aud', 'cache'], env);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const got = r.json[0] as { spiffeId: string; validatedId: string; audience: string[]; token: string; bundleKeys: string[] };
    expect(got).toMatchObject({ spiffeId: WEB_ID, validatedId: WEB_ID, audience: ['db', 'cache'] });
    const kid = JSON.parse(Buffer.from(got.token.split('.')[0]!, 'base64url').toString()).kid as string;
    expect(got.bundleKeys).toContain(kid);
    const ok = await runTool([suite.tool, 'validate', '-token', got.token, '-aud', 'cache'], env);
    expect(ok.json[0]).toEqual({ valid: true, spiffeId: WEB_ID });
    const wrong = await runTool([suite.tool, 'validate', '-token', got.token, '-aud', 'payments'], env);
    expect(wrong.json[0]).toMatchObject({ valid: false, error: expect.stringContaining('audience') });
  });
});

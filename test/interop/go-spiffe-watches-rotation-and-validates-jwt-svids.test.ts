// go-spiffe v2 (not written by us) against a real sidecar's Workload API: its X.509 watcher gets the SVID at once and
// a new one (a new key) after each forced rotation, never the same key twice; FetchJWTSVID's token validates with
// jwtsvid.ParseAndValidate against the bundle from FetchJWTBundles, and the same token fails for another audience;
// FetchJWTSVID with jwtsvid.Params.Subject gets the token for the workload's own ID and PermissionDenied for another.
import { describe, expect, it } from 'vitest';
import { runTool } from '../helpers/interop.js';
import { LineProcess } from '../helpers/line-process.js';
import { WEB_ID } from '../helpers/sidecar.js';
import { workloadApiSidecarForSuite } from '../helpers/workload-api.js';

const suite = workloadApiSidecarForSuite({ tool: 'go' });
const API_ID = 'spiffe://example.org/ns/default/sa/api';
const ROTATIONS = 3;

describe('go-spiffe v2 workloadapi', () => {
  it('WatchX509Context gets the SVID at once, then one new SVID with a new key per POST /rotate, never a key twice', async () => {
    const watcher = new LineProcess([suite.tool, 'x509', '-n', String(ROTATIONS + 1)], { SPIFFE_ENDPOINT_SOCKET: suite.wl.endpoint });
    try {
      await watcher.waitFor(/"serial"/);
      for (let i = 0; i < ROTATIONS; i++) expect((await suite.wl.sidecar.rotate()).status).toBe(200);
      expect(await watcher.exited).toBe(0);
      const seen = watcher.json().filter((l) => l.serial);
      // Exactly the SVIDs the sidecar held, in order: the one at start, then each rotation's.
      const held = (await suite.wl.sidecar.status()).identity.history.slice(-(ROTATIONS + 1));
      expect(seen).toEqual(held.map((h) => ({ spiffeId: WEB_ID, serial: h.serial.replace(/^0+/, ''), publicKeySha256: h.publicKeySha256, roots: 1 })));
      expect(new Set(seen.map((l) => l.publicKeySha256)).size).toBe(ROTATIONS + 1);
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

  it('FetchJWTSVID with Params.Subject: the own ID gets its token, another ID gets PermissionDenied (not_entitled)', async () => {
    const env = { SPIFFE_ENDPOINT_SOCKET: suite.wl.endpoint };
    const own = await runTool([suite.tool, 'jwt', '-aud', 'db', '-id', WEB_ID], env);
    expect(own.code, own.stdout + own.stderr).toBe(0);
    expect(own.json[0]).toMatchObject({ spiffeId: WEB_ID, validatedId: WEB_ID, audience: ['db'] });
    const other = await runTool([suite.tool, 'jwt', '-aud', 'db', '-id', API_ID], env);
    expect(other.code).toBe(1);
    expect(other.json[0]).toEqual({ error: `rpc error: code = PermissionDenied desc = not_entitled: this workload is ${WEB_ID}, not ${API_ID}` });
  });
});

// SPIRE's own agent CLI (spire-agent v1.13.3, built from its module) against a real sidecar's Workload API:
// `api fetch x509` gets the SVID and the bundle, `api fetch jwt` a token and the JWT bundle, and `api validate jwt`
// (our ValidateJWTSVID) accepts that token for its audience and refuses it for another.
import { X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { runTool } from '../helpers/interop.js';
import { WEB_ID } from '../helpers/sidecar.js';
import { workloadApiSidecarForSuite } from '../helpers/workload-api.js';

const suite = workloadApiSidecarForSuite({ tool: 'spire' });
const api = (...args: string[]) => runTool([suite.tool, 'api', ...args, '-socketPath', suite.wl.socket]);

describe('spire-agent api', () => {
  it('fetch x509 gets the SVID the sidecar holds, its key and the bundle', async () => {
    const r = await api('fetch', 'x509', '-output', 'json');
    expect(r.code, r.stderr).toBe(0);
    const svid = (JSON.parse(r.stdout) as { svids: { spiffe_id: string; x509_svid: string; x509_svid_key: string; bundle: string }[] }).svids[0]!;
    expect(svid.spiffe_id).toBe(WEB_ID);
    const leaf = new X509Certificate(Buffer.from(svid.x509_svid, 'base64'));
    expect(leaf.serialNumber.toLowerCase()).toBe((await suite.wl.sidecar.status()).identity.serial);
    expect(new X509Certificate(Buffer.from(svid.bundle, 'base64')).toString()).toBe(new X509Certificate(suite.ca.bundlePem).toString());
    expect(svid.x509_svid_key.length).toBeGreaterThan(100);
  });

  it('fetch jwt gets a token and the JWT bundle; validate jwt accepts it for its audience and refuses it for another', async () => {
    const r = await api('fetch', 'jwt', '-audience', 'db', '-output', 'json');
    expect(r.code, r.stderr).toBe(0);
    const [tokens, bundles] = JSON.parse(r.stdout) as [{ svids: { spiffe_id: string; svid: string }[] }, { bundles: Record<string, string> }];
    expect(tokens.svids[0]!.spiffe_id).toBe(WEB_ID);
    const jwks = JSON.parse(Buffer.from(bundles.bundles['spiffe://example.org']!, 'base64').toString()) as { keys: { use: string; kid: string }[]; spiffe_sequence: number };
    expect(jwks.keys.every((k) => k.use === 'jwt-svid' && k.kid)).toBe(true);
    expect(jwks.spiffe_sequence).toBeGreaterThan(0);
    const ok = await api('validate', 'jwt', '-audience', 'db', '-svid', tokens.svids[0]!.svid);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toContain(`SVID is valid.\nSPIFFE ID : ${WEB_ID}`);
    const wrong = await api('validate', 'jwt', '-audience', 'payments', '-svid', tokens.svids[0]!.svid);
    expect(wrong.code).not.toBe(0);
    expect(wrong.stderr + wrong.stdout).toContain(`SVID is not valid: jwt_invalid: the JWT-SVID is not valid: its audience does not include "payments"`);
  });
});

// FetchJWTSVID's optional spiffe_id on a real sidecar: the workload's own ID gets its JWT-SVID (the same one as when
// no ID is given); any other ID, of this trust domain or another, is refused with PERMISSION_DENIED (`not_entitled`),
// logged with the caller's uid and pid, and the sidecar asks the CA for nothing.
import * as grpc from '@grpc/grpc-js';
import { decodeJwt } from 'jose';
import { describe, expect, it } from 'vitest';
import { WEB_ID } from '../helpers/sidecar.js';
import { unary, unaryError, workloadApiSidecarForSuite } from '../helpers/workload-api.js';

const suite = workloadApiSidecarForSuite();
const API_ID = 'spiffe://example.org/ns/default/sa/api';
const FOREIGN_ID = 'spiffe://other.org/ns/default/sa/web';

type JwtSvids = { svids: { spiffeId: string; svid: string }[] };

describe('FetchJWTSVID with a spiffe_id', () => {
  it("answers for the workload's own ID with its JWT-SVID, the one it gets without an ID", async () => {
    const c = suite.wl.client();
    const own = await unary<JwtSvids>(c, 'FetchJWTSVID', { audience: ['db'], spiffeId: WEB_ID });
    expect(own.svids.map((s) => s.spiffeId)).toEqual([WEB_ID]);
    expect(decodeJwt(own.svids[0]!.svid)).toMatchObject({ sub: WEB_ID, aud: ['db'] });
    const unnamed = await unary<JwtSvids>(c, 'FetchJWTSVID', { audience: ['db'] });
    expect(unnamed.svids[0]!.svid).toBe(own.svids[0]!.svid);
    expect((await unary<{ spiffeId: string }>(c, 'ValidateJWTSVID', { audience: 'db', svid: own.svids[0]!.svid })).spiffeId).toBe(WEB_ID);
  });

  it('refuses another ID with PERMISSION_DENIED (not_entitled), names the caller, and asks the CA for nothing', async () => {
    const c = suite.wl.client();
    const before = (await suite.wl.sidecar.status()).workloadApi!;
    for (const other of [API_ID, FOREIGN_ID]) {
      // An audience never asked for: a token for it would have to come from the CA.
      const e = await unaryError(c, 'FetchJWTSVID', { audience: ['payments'], spiffeId: other });
      expect(e.code).toBe(grpc.status.PERMISSION_DENIED);
      expect(e.details).toBe(`not_entitled: this workload is ${WEB_ID}, not ${other}`);
    }
    const line = JSON.parse(await suite.wl.sidecar.proc.waitFor(/"code":"not_entitled"/)) as Record<string, unknown>;
    expect(line).toMatchObject({ msg: 'workload API call refused', method: 'FetchJWTSVID', uid: process.getuid!(), pid: process.pid });
    const after = (await suite.wl.sidecar.status()).workloadApi!;
    expect(after.refusals!.not_entitled).toBe(2);
    expect(after.jwtSvids).toEqual(before.jwtSvids);
    // The refusal ends only that call: the same client is served for its own ID.
    expect((await unary<JwtSvids>(c, 'FetchJWTSVID', { audience: ['payments'], spiffeId: WEB_ID })).svids[0]!.spiffeId).toBe(WEB_ID);
    expect((await suite.wl.sidecar.status()).workloadApi!.jwtSvids!.fetched).toBe(before.jwtSvids!.fetched + 1);
  });
});

// Every Workload API call must carry `workload.spiffe.io: true`: without it each method answers INVALID_ARGUMENT
// (`missing_security_header`), logged with the caller's uid and pid; with it the same calls are served (the WIT
// methods answer UNIMPLEMENTED, as the spec asks of an endpoint without WIT-SVIDs).
import * as grpc from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { WEB_ID } from '../helpers/sidecar.js';
import { firstMessage, streamError, unary, unaryError, workloadApiSidecarForSuite } from '../helpers/workload-api.js';

const suite = workloadApiSidecarForSuite();

describe('the Workload API security header', () => {
  it('refuses every method without workload.spiffe.io: true, naming the caller', async () => {
    const bare = suite.wl.client({ header: false });
    const errors = [
      await streamError(bare.FetchX509SVID({})), await streamError(bare.FetchX509Bundles({})), await streamError(bare.FetchJWTBundles({})),
      await streamError(bare.FetchWITSVID({})), await streamError(bare.FetchWITBundles({})),
      await unaryError(bare, 'FetchJWTSVID', { audience: ['db'] }), await unaryError(bare, 'ValidateJWTSVID', { audience: 'db', svid: 'a.b.c' }),
    ];
    for (const e of errors) {
      expect(e.code).toBe(grpc.status.INVALID_ARGUMENT);
      expect(e.details).toBe('missing_security_header: every call must carry the metadata "workload.spiffe.io: true"');
    }
    const line = JSON.parse(await suite.wl.sidecar.proc.waitFor(/workload API call refused/)) as Record<string, unknown>;
    expect(line).toMatchObject({ code: 'missing_security_header', uid: process.getuid!(), pid: process.pid });
    expect((await suite.wl.sidecar.status()).workloadApi!.refusals).toEqual({ missing_security_header: 7 });
  });

  it('serves the same calls with the header', async () => {
    const c = suite.wl.client();
    const x509 = await firstMessage(c.FetchX509SVID({}));
    expect(x509.svids[0]!.spiffeId).toBe(WEB_ID);
    expect(Object.keys((await firstMessage(c.FetchX509Bundles({}))).bundles)).toEqual(['spiffe://example.org']);
    expect(Object.keys((await firstMessage(c.FetchJWTBundles({}))).bundles)).toEqual(['spiffe://example.org']);
    const jwt = await unary<{ svids: { svid: string }[] }>(c, 'FetchJWTSVID', { audience: ['db'] });
    expect((await unary<{ spiffeId: string }>(c, 'ValidateJWTSVID', { audience: 'db', svid: jwt.svids[0]!.svid })).spiffeId).toBe(WEB_ID);
    for (const e of [await streamError(c.FetchWITSVID({})), await streamError(c.FetchWITBundles({}))]) {
      expect(e.code).toBe(grpc.status.UNIMPLEMENTED);
    }
  });
});

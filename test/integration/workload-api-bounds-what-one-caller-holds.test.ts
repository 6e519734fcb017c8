// What one Workload API caller can hold or send is bounded: a request that does not decode answers INVALID_ARGUMENT
// (`invalid_request`), one above 64 KiB RESOURCE_EXHAUSTED before it is buffered, and calls past MAX_CALLS_PER_UID
// open at once RESOURCE_EXHAUSTED (`too_many_calls`); the sidecar keeps serving the same caller within its bounds.
import * as grpc from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { MAX_CALLS_PER_UID, MAX_REQUEST_BYTES, SECURITY_HEADER } from '../../src/workload-api/server.js';
import { WEB_ID } from '../helpers/sidecar.js';
import { firstMessage, unary, workloadApiClient, workloadApiSidecarForSuite, type SpiffeWorkloadAPIClient } from '../helpers/workload-api.js';

const suite = workloadApiSidecarForSuite();

/** Sends `body` as the raw request message of FetchJWTSVID. */
function rawCall(body: Buffer): Promise<grpc.ServiceError | Buffer> {
  const client = new grpc.Client(`unix://${suite.wl.socket}`, grpc.credentials.createInsecure());
  const md = new grpc.Metadata();
  md.set(SECURITY_HEADER, 'true');
  return new Promise((resolve) => {
    client.makeUnaryRequest('/SpiffeWorkloadAPI/FetchJWTSVID', (b: Buffer) => b, (b: Buffer) => b, body, md, (err, res) => {
      client.close();
      resolve(err ?? res!);
    });
  });
}

describe('Workload API bounds', () => {
  it('answers INVALID_ARGUMENT to a request that does not decode and RESOURCE_EXHAUSTED to one above the size limit', async () => {
    // A tag byte announcing field 31 as a varint, and nothing after it.
    const garbage = await rawCall(Buffer.from([0xff]));
    expect((garbage as grpc.ServiceError).code).toBe(grpc.status.INVALID_ARGUMENT);
    expect((garbage as grpc.ServiceError).details).toMatch(/^invalid_request: the request does not decode/);
    // A field 1 without a value decodes as one empty audience: refused by the request rules.
    const empty = await rawCall(Buffer.from([0x08, 0x01]));
    expect((empty as grpc.ServiceError).details).toBe('invalid_request: an audience must have 1 to 256 characters');
    const huge = await rawCall(Buffer.alloc(MAX_REQUEST_BYTES + 1, 0x0a));
    expect((huge as grpc.ServiceError).code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect((await suite.wl.sidecar.status()).workloadApi!.refusals).toMatchObject({ invalid_request: 2, message_too_large: 1 });
    const c = suite.wl.client();
    expect((await unary<{ svids: { spiffeId: string }[] }>(c, 'FetchJWTSVID', { audience: ['db'] })).svids[0]!.spiffeId).toBe(WEB_ID);
  });

  it(`refuses calls past ${MAX_CALLS_PER_UID} open at once from one uid, and serves again once they end`, async () => {
    // Separate connections (a local subchannel pool each), so that HTTP/2's per-connection stream cap is not what refuses.
    const clients: SpiffeWorkloadAPIClient[] = [];
    const streams: grpc.ClientReadableStream<unknown>[] = [];
    const refused: grpc.ServiceError[] = [];
    try {
      for (let i = 0; i < 4; i++) {
        const client = workloadApiClient(suite.wl.socket, { options: { 'grpc.use_local_subchannel_pool': 1 } });
        clients.push(client);
        for (let j = 0; j < 20; j++) {
          const s = client.FetchX509Bundles({});
          s.on('data', () => undefined);
          s.on('error', (e: grpc.ServiceError) => { if (e.code !== grpc.status.CANCELLED) refused.push(e); });
          streams.push(s);
        }
      }
      const until = Date.now() + 10_000;
      while (refused.length < 80 - MAX_CALLS_PER_UID && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
      expect(refused).toHaveLength(80 - MAX_CALLS_PER_UID);
      for (const e of refused) {
        expect(e.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
        expect(e.details).toMatch(/^too_many_calls: uid \d+ has 64 calls open/);
      }
      expect((await suite.wl.sidecar.status()).workloadApi!.activeCalls).toBe(MAX_CALLS_PER_UID);
    } finally {
      for (const s of streams) s.cancel();
    }
    await suite.wl.sidecar.waitForStatus((s) => s.workloadApi!.activeCalls === 0);
    expect((await firstMessage(suite.wl.client().FetchX509SVID({}))).svids[0]!.spiffeId).toBe(WEB_ID);
    for (const c of clients) c.close();
  });
});

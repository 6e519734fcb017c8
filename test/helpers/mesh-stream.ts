// A hand-driven mesh stream client for tests: a sidecar's SVID from a real CA (join token), then Mesh.Stream with
// that SVID, collecting every update and the final status, sending whatever the test scripts (acks, NACKs, garbage).
//   const svid = await svidFor(ca, 'spiffe://example.org/ns/a/sa/web');
//   const s = openMesh(ca, svid);                        // no Subscribe yet: s.send({ subscribe: { kinds: [...] } })
//   const u = await s.next();                            // the next update, decoded as the wire gives it
//   s.ack(u); s.nack(u, 'base_mismatch');                // acknowledge or refuse it
//   const st = await s.closed;                           // { code, details } once the CA ends the stream
import * as grpc from '@grpc/grpc-js';
import { loadCaProto } from '../../src/common/ca-proto.js';
import type { MeshClient } from '../../src/gen/ztmesh/mesh/v1/Mesh.js';
import type { MeshRequest } from '../../src/gen/ztmesh/mesh/v1/MeshRequest.js';
import type { MeshUpdate__Output } from '../../src/gen/ztmesh/mesh/v1/MeshUpdate.js';
import { CA_TLS_NAME, chainPem, makeCsr, signCsr, type TestCaServer } from './ca.js';

export interface TestSvid { spiffeId: string; certPem: string; keyPem: string }

/** An SVID for `spiffeId` from the CA (a join token, then SignCertificate). */
export async function svidFor(ca: TestCaServer, spiffeId: string, ttlSeconds = 600): Promise<TestSvid> {
  const { csr, keyPem } = makeCsr(spiffeId);
  const res = await signCsr(ca.client(), csr, { token: await ca.mintToken(spiffeId), ttlSeconds });
  return { spiffeId, certPem: chainPem(res), keyPem };
}

export interface TestMeshStream {
  updates: MeshUpdate__Output[];
  /** Resolves with the next update not yet taken by next(); rejects after timeoutMs. */
  next(timeoutMs?: number): Promise<MeshUpdate__Output>;
  /** Updates that arrived and were not taken by next(). */
  pending(): number;
  send(r: MeshRequest): void;
  subscribe(kinds: string[], addresses?: string[]): void;
  ack(u: MeshUpdate__Output): void;
  nack(u: MeshUpdate__Output, code: string): void;
  /** The status the stream ended with. */
  closed: Promise<{ code: grpc.status; details: string }>;
  cancel(): void;
}

/** A Mesh.Stream to the CA presenting `svid` (or nothing), on its own channel unless `channel` is shared. */
export function openMesh(ca: TestCaServer, svid: TestSvid | undefined, channel?: MeshClient): TestMeshStream & { client: MeshClient } {
  const { proto } = loadCaProto();
  const client = channel ?? new proto.ztmesh.mesh.v1.Mesh(ca.address, grpc.credentials.createSsl(
    Buffer.from(ca.bundlePem), svid ? Buffer.from(svid.keyPem) : null, svid ? Buffer.from(svid.certPem) : null,
  ), { 'grpc.ssl_target_name_override': CA_TLS_NAME, 'grpc.default_authority': CA_TLS_NAME }) as unknown as MeshClient;
  const call = client.Stream();
  const updates: MeshUpdate__Output[] = [];
  let taken = 0;
  let wake: (() => void) | undefined;
  call.on('data', (u: MeshUpdate__Output) => { updates.push(u); wake?.(); });
  const closed = new Promise<{ code: grpc.status; details: string }>((resolve) => {
    call.on('error', (e: grpc.ServiceError) => { resolve({ code: e.code, details: e.details }); wake?.(); });
    call.on('status', (s: grpc.StatusObject) => { if (s.code === grpc.status.OK) resolve({ code: s.code, details: s.details }); wake?.(); });
  });
  let ended = false;
  void closed.then(() => { ended = true; });
  const send = (r: MeshRequest) => { if (call.writable) call.write(r); };
  return {
    client, updates, closed, send,
    pending: () => updates.length - taken,
    async next(timeoutMs = 10_000) {
      const until = Date.now() + timeoutMs;
      while (updates.length <= taken) {
        if (ended) throw new Error(`the stream ended after ${updates.length} update(s)`);
        if (Date.now() > until) throw new Error(`no update within ${timeoutMs} ms (${updates.length} so far)`);
        await new Promise<void>((r) => { wake = r; setTimeout(r, 100); });
      }
      return updates[taken++]!;
    },
    subscribe: (kinds, addresses = []) => send({ subscribe: { kinds, sidecarVersion: 'test', addresses } }),
    ack: (u) => send({ ack: { kind: u.kind, version: u.version, applied: true } }),
    nack: (u, code) => send({ ack: { kind: u.kind, version: u.version, applied: false, errorCode: code, errorDetail: 'test' } }),
    cancel: () => { call.cancel(); if (!channel) client.close(); },
  };
}

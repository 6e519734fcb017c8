// A JWT key rotation reaches a sidecar with the trust bundle, whichever stream brings it, and both the old and the new
// token validate at that sidecar's Workload API. One real CA (JWT keys every 2 s) and two sidecars: a `ztmesh sidecar`
// process on the mesh stream (its trust-bundle version moves from `<seq>.<hash>` to a new hash under the same
// sequence), and one in this process whose CA client meets an older CA: every call goes to the real CA, but the mesh
// stream is answered UNIMPLEMENTED (as grpc-js answers a service it does not serve), so it falls back to
// WatchTrustBundle.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeProtectedHeader } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SidecarStatus } from '../../src/admin/status-types.js';
import { CaClientError } from '../../src/common/errors.js';
import { silentLogger } from '../../src/common/logger.js';
import { GrpcCaClient, type MeshStreamHandlers } from '../../src/identity/ca-client.js';
import { buildSidecar, type RunningSidecar } from '../../src/sidecar/app.js';
import { loadSidecarConfig } from '../../src/sidecar/config.js';
import { startCa, type TestCaServer } from '../helpers/ca.js';
import { WEB_ID } from '../helpers/sidecar.js';
import { untilValue } from '../helpers/until.js';
import { startWorkloadApiSidecar, unary, workloadApiClient, type SpiffeWorkloadAPIClient, type WorkloadApiSidecar } from '../helpers/workload-api.js';
import { tempDir } from '../helpers/temp-dir.js';

const API_ID = 'spiffe://example.org/ns/default/sa/api';
let ca: TestCaServer;
let meshSidecar: WorkloadApiSidecar;
let fallback: { sidecar: RunningSidecar; client: SpiffeWorkloadAPIClient; dir: string };

/** The CA client of a sidecar facing a CA that predates the mesh stream. */
function olderCaClient(real: GrpcCaClient) {
  return {
    sign: real.sign.bind(real),
    watchBundle: real.watchBundle.bind(real),
    signJwtSvid: real.signJwtSvid.bind(real),
    openMesh(handlers: MeshStreamHandlers) {
      const t = setImmediate(() => handlers.onClose(new CaClientError('unimplemented', `CA ${ca.address}: The server does not implement the method /ztmesh.mesh.v1.Mesh/Stream`)));
      return { send: () => undefined, cancel: () => clearImmediate(t) };
    },
  };
}

async function startFallbackSidecar() {
  const dir = tempDir('ztmesh-jwt-fallback-');
  writeFileSync(join(dir, 'roots.pem'), ca.bundlePem);
  writeFileSync(join(dir, 'token'), await ca.mintToken(API_ID), { mode: 0o600 });
  const socket = join(dir, 'api.sock');
  const config = loadSidecarConfig({
    flags: {
      'trust-domain': 'example.org', 'ca-address': ca.address, 'ca-bundle': join(dir, 'roots.pem'), 'token-file': join(dir, 'token'),
      'ca-server-name': 'localhost', 'spiffe-id': API_ID, admin: '127.0.0.1:0', health: '127.0.0.1:0', 'workload-api-socket': socket,
    },
  });
  const log = silentLogger();
  const real = new GrpcCaClient({ addresses: [ca.address], trustDomain: 'example.org', tokenFile: join(dir, 'token'), serverName: 'localhost', log });
  const sidecar = await buildSidecar(config, { log, caClient: olderCaClient(real) });
  return { sidecar, client: workloadApiClient(socket), dir };
}

beforeAll(async () => {
  ca = await startCa({ args: ['--jwt-key-period', '2s', '--jwt-max-ttl', '10s', '--jwt-ttl', '6s'] });
  meshSidecar = await startWorkloadApiSidecar({ ca });
  fallback = await startFallbackSidecar();
});
afterAll(async () => {
  fallback?.client.close();
  await fallback?.sidecar.close();
  await meshSidecar?.stop();
  await ca?.stop();
});

interface Case {
  protocol: 'mesh' | 'watch-trust-bundle';
  id: string;
  status(): Promise<SidecarStatus>;
  client(): SpiffeWorkloadAPIClient;
}
const cases: Case[] = [
  { protocol: 'mesh', id: WEB_ID, status: () => meshSidecar.sidecar.status(), client: () => meshSidecar.client() },
  { protocol: 'watch-trust-bundle', id: API_ID, status: async () => fallback.sidecar.status(), client: () => fallback.client },
];

let audiences = 0;
/** A fresh JWT-SVID (an audience never asked for before, so never from the cache) and the key that signed it. */
async function freshToken(c: SpiffeWorkloadAPIClient): Promise<{ token: string; kid: string; audience: string }> {
  const audience = `aud-${++audiences}`;
  const res = await unary<{ svids: { svid: string }[] }>(c, 'FetchJWTSVID', { audience: [audience] });
  const token = res.svids[0]!.svid;
  return { token, kid: decodeProtectedHeader(token).kid!, audience };
}

describe('a JWT key rotation', () => {
  it.each(cases)('reaches a sidecar on $protocol, and its old and new tokens validate there', async ({ protocol, id, status, client }) => {
    const before = await untilValue(status, (s) => s.identity.state === 'available' && s.ca.bundleStream.protocol === protocol && (s.workloadApi?.jwtBundle?.keyIds.length ?? 0) >= 2);
    const c = client();
    const keysBefore = before.workloadApi!.jwtBundle!.keyIds;
    const versionBefore = before.mesh?.kinds['trust-bundle']?.version;
    if (protocol === 'mesh') expect(versionBefore).toMatch(/^\d+\.[0-9a-f]{12}$/);
    else expect(before.mesh?.kinds['trust-bundle']).toBeUndefined();

    const old = await freshToken(c);
    expect(keysBefore).toContain(old.kid);
    // The CA's next key period: a fresh token is signed by another key (asked every 200 ms, a 2 s period).
    const next = await untilValue(() => freshToken(c), (t) => t.kid !== old.kid, 8_000, 200);
    // ... and the key published at that boundary came down the stream.
    const after = await untilValue(status, (s) => s.workloadApi!.jwtBundle!.keyIds.some((k) => !keysBefore.includes(k)));
    expect(after.workloadApi!.jwtBundle!.lastRefusal).toBeNull();
    if (protocol === 'mesh') {
      const versionAfter = after.mesh!.kinds['trust-bundle']!.version;
      expect(versionAfter).not.toBe(versionBefore);
      expect(versionAfter.split('.')[0]).toBe(versionBefore!.split('.')[0]); // the roots did not change
    }
    for (const t of [old, next]) {
      const v = await unary<{ spiffeId: string }>(c, 'ValidateJWTSVID', { audience: t.audience, svid: t.token });
      expect(v.spiffeId).toBe(id);
    }
  });
});

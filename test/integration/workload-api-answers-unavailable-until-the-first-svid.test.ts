// Before the sidecar holds its first SVID (its CA is not up yet), every Workload API call answers UNAVAILABLE
// (`no_svid`), which SPIFFE clients retry: a go-spiffe watcher started then gets the SVID once the CA comes up.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JoinTokenStore } from '../../src/ca/attestors/join-tokens.js';
import { initCa, startCa, type TestCaServer } from '../helpers/ca.js';
import { freePort } from '../helpers/datapath.js';
import { interopTool } from '../helpers/interop.js';
import { LineProcess } from '../helpers/line-process.js';
import { WEB_ID } from '../helpers/sidecar.js';
import { startWorkloadApiSidecar, streamError, unaryError, type WorkloadApiSidecar } from '../helpers/workload-api.js';

let dir: string;
let address: string;
let ca: TestCaServer | undefined;
let wl: WorkloadApiSidecar;
let goClient: string;

beforeAll(async () => {
  [goClient, dir] = await Promise.all([interopTool('go'), initCa()]);
  address = `127.0.0.1:${await freePort()}`;
  const { token } = await new JoinTokenStore(dir).create(WEB_ID, 3_600_000, Date.now());
  wl = await startWorkloadApiSidecar({ caAddress: address, bundlePem: readFileSync(join(dir, 'bundle.pem'), 'utf8'), token, trustDomain: 'example.org' });
}, 15 * 60_000);
afterAll(async () => {
  await wl?.stop();
  await ca?.stop();
});

describe('the Workload API before the first SVID', () => {
  it('answers UNAVAILABLE (no_svid) on every method while the sidecar has no SVID, then serves once it has one', async () => {
    const c = wl.client();
    for (const stream of [c.FetchX509SVID({}), c.FetchX509Bundles({}), c.FetchJWTBundles({})]) {
      const e = await streamError(stream);
      expect(e.code).toBe(grpc.status.UNAVAILABLE);
      expect(e.details).toMatch(/^no_svid: the sidecar holds no valid SVID yet \(identity initializing\)/);
    }
    expect((await unaryError(c, 'FetchJWTSVID', { audience: ['db'] })).code).toBe(grpc.status.UNAVAILABLE);
    expect((await unaryError(c, 'ValidateJWTSVID', { audience: 'db', svid: 'x.y.z' })).code).toBe(grpc.status.UNAVAILABLE);
    expect((await wl.sidecar.status()).workloadApi).toMatchObject({ refusals: { no_svid: 5 }, lastRefusal: { code: 'no_svid', uid: process.getuid!() } });

    // go-spiffe retries UNAVAILABLE with backoff: started now, it gets the SVID once the CA is up.
    const watcher = new LineProcess([goClient, 'x509', '-n', '1', '-timeout', '60s'], { SPIFFE_ENDPOINT_SOCKET: wl.endpoint });
    try {
      ca = await startCa({ dir, args: ['--listen', address] });
      expect(await watcher.exited, watcher.output()).toBe(0);
      expect(watcher.json().find((l) => l.serial)).toMatchObject({ spiffeId: WEB_ID, serial: (await wl.sidecar.status()).identity.serial!.replace(/^0+/, '') });
      expect(watcher.json().filter((l) => l.watchError).map((l) => String(l.watchError))).toContainEqual(expect.stringContaining('Unavailable'));
    } finally {
      await watcher.stop();
    }
  });
});

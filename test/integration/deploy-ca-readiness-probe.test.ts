// The CA Deployment's readiness probe (deploy/grpc-health-probe.mjs) checks grpc.health.v1 over TLS on a real CA:
// exit 0 when SERVING, non-zero when the CA is down or its certificate is not trusted.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCa, CA_TLS_NAME, type TestCaServer } from '../helpers/ca.js';
import { makeCa } from '../helpers/pki.js';
import { tempDir } from '../helpers/temp-dir.js';

const PROBE = fileURLToPath(new URL('../../deploy/grpc-health-probe.mjs', import.meta.url));
let ca: TestCaServer;
const otherRoots = join(tempDir('ztmesh-probe-'), 'other.pem');
writeFileSync(otherRoots, makeCa('other.test').certPem);

function probe(args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [PROBE, ...args], { timeout: 15_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? Number((err as NodeJS.ErrnoException & { code?: number }).code ?? 1) : 0, out: stdout + stderr });
    });
  });
}

beforeAll(async () => {
  ca = await startCa({ trustDomain: 'cluster.local' });
});
afterAll(async () => {
  await ca?.stop();
});

describe('deploy/grpc-health-probe.mjs', () => {
  it('exits 0 against a serving CA', async () => {
    const r = await probe([`--address=${ca.address}`, `--server-name=${CA_TLS_NAME}`, `--ca-file=${join(ca.dir, 'bundle.pem')}`]);
    expect(r.out).toContain('SERVING');
    expect(r.code).toBe(0);
  });

  it('fails when the CA certificate is not trusted', async () => {
    const r = await probe([`--address=${ca.address}`, `--server-name=${CA_TLS_NAME}`, `--ca-file=${otherRoots}`, '--timeout-ms=2000']);
    expect(r.code).not.toBe(0);
  });

  it('fails when nothing listens', async () => {
    const r = await probe(['--address=127.0.0.1:1', `--ca-file=${join(ca.dir, 'bundle.pem')}`, '--timeout-ms=2000']);
    expect(r.code).not.toBe(0);
  });
});

// The sidecar, the CA and the webhook each say which ztmesh they are: the first line each logs carries the version,
// each /metrics has ztmesh_build_info{version} 1, and the sidecar's /status has it too (docs/design.md
// "Versions and the image"). One CA, one sidecar without its CA (it still logs and serves), one webhook.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ZTMESH_VERSION } from '../../src/common/version.js';
import { startCa, type TestCaServer } from '../helpers/ca.js';
import { startSidecar, type TestSidecar } from '../helpers/sidecar.js';
import { startWebhookWithoutCa, type WaitingWebhook } from '../helpers/webhook-process.js';

let ca: TestCaServer;
let sidecar: TestSidecar;
let webhook: WaitingWebhook;

beforeAll(async () => {
  [ca, webhook] = await Promise.all([startCa(), startWebhookWithoutCa()]);
  sidecar = await startSidecar({ ca });
});
afterAll(async () => {
  await Promise.all([sidecar?.stop(), ca?.stop(), webhook?.proc.stop()]);
});

const firstLine = (output: string) => JSON.parse(output.split('\n').find((l) => l.startsWith('{'))!) as Record<string, unknown>;
const buildInfo = `ztmesh_build_info{version="${ZTMESH_VERSION}"} 1`;

describe('every ztmesh process says its version', () => {
  it('the CA: first log line, /metrics', async () => {
    expect(firstLine(ca.process.output())).toMatchObject({ version: ZTMESH_VERSION, msg: `ztmesh ca ${ZTMESH_VERSION} starting` });
    expect(await (await fetch(`http://${ca.adminAddress}/metrics`)).text()).toContain(buildInfo);
  });

  it('the sidecar: first log line, /metrics, /status', async () => {
    expect(firstLine(sidecar.proc.output())).toMatchObject({ version: ZTMESH_VERSION, msg: `ztmesh sidecar ${ZTMESH_VERSION} starting` });
    expect((await sidecar.get('/metrics')).text).toContain(buildInfo);
    expect((await sidecar.status()).version).toBe(ZTMESH_VERSION);
  });

  it('the webhook: first log line, /metrics on its health port', async () => {
    expect(firstLine(webhook.proc.output())).toMatchObject({ version: ZTMESH_VERSION, msg: `ztmesh webhook ${ZTMESH_VERSION} starting` });
    expect(await (await fetch(`${webhook.health}/metrics`)).text()).toContain(buildInfo);
  });
});

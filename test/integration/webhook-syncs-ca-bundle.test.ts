// The webhook keeps its MutatingWebhookConfiguration's caBundle equal to the ztmesh roots (PATCH on the
// stand-in API server), retries with backoff on the fake clock when the API server fails, and skips no-op patches.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKubeClient, inClusterConfig } from '../../src/k8s/kube-client.js';
import { CaBundleSync, caBundlePatch } from '../../src/k8s/ca-bundle-sync.js';
import { startFakeApiServer, type FakeApiServer } from '../helpers/fake-apiserver.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { captureLogger } from '../helpers/k8s-test-kit.js';

const NAME = 'ztmesh-sidecar-injector';
let api: FakeApiServer;
const clock = new FakeClock();
const log = captureLogger();
let sync: CaBundleSync;
const b64 = (s: string) => Buffer.from(s).toString('base64');

beforeAll(async () => {
  api = await startFakeApiServer();
  api.webhookConfigs.set(NAME, {
    apiVersion: 'admissionregistration.k8s.io/v1', kind: 'MutatingWebhookConfiguration', metadata: { name: NAME },
    webhooks: [{ name: 'sidecar-injector.ztmesh.io', clientConfig: { service: { name: 'ztmesh-webhook', namespace: 'ztmesh-system', path: '/inject', port: 443 } } }],
  });
  const client = createKubeClient(inClusterConfig({}, { server: api.url, caFile: api.caFile, tokenFile: api.tokenFile, serverName: api.serverName }));
  sync = new CaBundleSync({ client, name: NAME, clock, log: log.logger, random: () => 0.5 });
});
afterAll(async () => {
  sync.stop();
  await api.close();
});

describe('caBundle sync', () => {
  it('caBundlePatch: add when absent, replace when different, nothing when equal', () => {
    expect(caBundlePatch({ webhooks: [{ clientConfig: {} }] }, 'QQ==')).toEqual([{ op: 'add', path: '/webhooks/0/clientConfig/caBundle', value: 'QQ==' }]);
    expect(caBundlePatch({ webhooks: [{ clientConfig: { caBundle: 'Qg==' } }] }, 'QQ==')[0]!.op).toBe('replace');
    expect(caBundlePatch({ webhooks: [{ clientConfig: { caBundle: 'QQ==' } }] }, 'QQ==')).toEqual([]);
    expect(caBundlePatch({ webhooks: [{ clientConfig: { caBundle: 'QQ==' } }, { clientConfig: {} }] }, 'QQ==')).toEqual([
      { op: 'add', path: '/webhooks/1/clientConfig/caBundle', value: 'QQ==' },
    ]);
  });

  it('patches the caBundle with a JSON Patch, and does not patch again for the same roots', async () => {
    await sync.update('ROOTS-1');
    expect(api.webhookConfigs.get(NAME).webhooks[0].clientConfig.caBundle).toBe(b64('ROOTS-1'));
    const patch = api.requests.find((r) => r.method === 'PATCH')!;
    expect(patch.contentType).toBe('application/json-patch+json');
    expect(patch.path).toBe(`/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/${NAME}`);
    await sync.update('ROOTS-1');
    expect(api.requests.filter((r) => r.method === 'PATCH')).toHaveLength(1);
  });

  it('retries with backoff when the API server fails, until the new roots are in place', async () => {
    api.mode = 'http-500';
    await sync.update('ROOTS-2');
    expect(log.lines.some((l) => l.code === 'ca_bundle_sync_failed')).toBe(true);
    expect(clock.pendingTimers()).toEqual([1_000]);
    api.mode = 'normal';
    await clock.advance(1_000);
    await expect.poll(() => api.webhookConfigs.get(NAME).webhooks[0].clientConfig.caBundle).toBe(b64('ROOTS-2'));
  });
});

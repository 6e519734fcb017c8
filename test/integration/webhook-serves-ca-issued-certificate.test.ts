// A real `ztmesh webhook` gets its serving certificate from a real `ztmesh ca` (TokenReview against the stand-in,
// Service DNS SAN granted by --k8s-dns-san, its reserved ID by --grant-reserved-id), writes the ztmesh roots into its MutatingWebhookConfiguration's
// caBundle, answers an AdmissionReview that a client trusting only that caBundle can verify, as the API server does, and
// writes the CA's roots into each namespace labelled for injection. With no --image it injects the image of its own
// container, read from its pod (POD_NAME, POD_NAMESPACE).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { connect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCa, type TestCaServer } from '../helpers/ca.js';
import { certsToPem, fromPemAll } from '../../src/pki/index.js';
import { CliProcess } from '../helpers/cli.js';
import { startFakeApiServer, type FakeApiServer } from '../helpers/fake-apiserver.js';
import { admissionFixture, postHttps } from '../helpers/webhook-client.js';
import { tempDir } from '../helpers/temp-dir.js';

const NAME = 'ztmesh-webhook.ztmesh-system.svc';
const MWC = 'ztmesh-sidecar-injector';
const OWN_POD = 'ztmesh-webhook-7d9f8b6c5d-x2k4p';
const OWN_IMAGE = 'registry.example/mesh/ztmesh:9.9.9';
let api: FakeApiServer;
let ca: TestCaServer;
let webhook: CliProcess;
let port: number;

beforeAll(async () => {
  api = await startFakeApiServer();
  api.webhookConfigs.set(MWC, {
    apiVersion: 'admissionregistration.k8s.io/v1', kind: 'MutatingWebhookConfiguration', metadata: { name: MWC },
    webhooks: [{ name: 'sidecar-injector.ztmesh.io', clientConfig: { service: { name: 'ztmesh-webhook', namespace: 'ztmesh-system', path: '/inject', port: 443 } } }],
  });
  api.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop', labels: { 'ztmesh.io/inject': 'enabled' } } });
  api.apply({ apiVersion: 'v1', kind: 'Pod', metadata: { name: OWN_POD, namespace: 'ztmesh-system' }, spec: { containers: [{ name: 'webhook', image: OWN_IMAGE }] } });
  const k8s = ['--k8s-api', api.url, '--k8s-ca-file', api.caFile, '--k8s-token-file', api.tokenFile, '--k8s-server-name', api.serverName];
  ca = await startCa({ trustDomain: 'cluster.local', args: ['--k8s-token-review', ...k8s, '--k8s-dns-san', `ztmesh-system/ztmesh-webhook=${NAME}`, '--grant-reserved-id', 'ztmesh-system/ztmesh-webhook'] });
  const dir = tempDir('ztmesh-webhook-e2e-');
  writeFileSync(join(dir, 'token'), await api.mintToken({ namespace: 'ztmesh-system', serviceAccount: 'ztmesh-webhook', pod: 'ztmesh-webhook-0' }));
  writeFileSync(join(dir, 'roots.pem'), ca.bundlePem);
  webhook = new CliProcess(['webhook', '--listen', '127.0.0.1:0', '--health', '127.0.0.1:0', '--ca-address', ca.address, '--token-file', join(dir, 'token'),
    '--bundle', join(dir, 'roots.pem'), '--dns', NAME, '--webhook-config', MWC, '--distribute-bundle', ...k8s], { POD_NAME: OWN_POD, POD_NAMESPACE: 'ztmesh-system' });
  const line = await Promise.race([
    webhook.waitFor(/"msg":"webhook serving"/),
    webhook.exited.then((code) => { throw new Error(`webhook exited with ${code}:\n${webhook.output()}`); }),
  ]);
  port = Number((JSON.parse(line) as { address: string }).address.split(':').pop());
});
afterAll(async () => {
  await webhook?.stop();
  await ca?.stop();
  await api?.close();
});

function peerCert(): Promise<X509Certificate> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port, servername: NAME, rejectUnauthorized: false }, () => {
      resolve(new X509Certificate(s.getPeerCertificate().raw));
      s.end();
    });
    s.on('error', reject);
  });
}

describe('ztmesh webhook with a certificate from the ztmesh CA', () => {
  it('its plain-HTTP health port reports ready once serving', async () => {
    const line = await webhook.waitFor(/"msg":"webhook waiting for its serving certificate"/);
    const health = (JSON.parse(line) as { health: string }).health;
    expect((await fetch(`http://${health}/healthz`)).status).toBe(200);
    await expect.poll(async () => (await fetch(`http://${health}/readyz`)).status, { timeout: 10_000 }).toBe(200);
  });

  it('serves an SVID naming its Service and its SPIFFE ID', async () => {
    const cert = await peerCert();
    expect(cert.subjectAltName).toContain(`DNS:${NAME}`);
    expect(cert.subjectAltName).toContain('URI:spiffe://cluster.local/ns/ztmesh-system/sa/ztmesh-webhook');
  });

  it('publishes the ztmesh roots as the caBundle of its MutatingWebhookConfiguration', async () => {
    await expect.poll(() => api.webhookConfigs.get(MWC).webhooks[0].clientConfig.caBundle, { timeout: 10_000 }).toBeDefined();
    const pem = Buffer.from(api.webhookConfigs.get(MWC).webhooks[0].clientConfig.caBundle, 'base64').toString('utf8');
    // The roots of bundle.pem, without its sequence line.
    expect(pem.trim()).toBe(certsToPem(fromPemAll(ca.bundlePem)).trim());
  });

  it('answers an AdmissionReview over TLS verified with that caBundle and the Service name', async () => {
    const caBundle = Buffer.from(api.webhookConfigs.get(MWC).webhooks[0].clientConfig.caBundle, 'base64').toString('utf8');
    const review = admissionFixture();
    const reply = await postHttps(port, '/inject', JSON.stringify(review), { caPem: caBundle, serverName: NAME });
    expect(reply.status).toBe(200);
    const response = JSON.parse(reply.body).response;
    expect(response).toMatchObject({ uid: review.request.uid, allowed: true, patchType: 'JSONPatch' });
    // The image it injects is its own container's, as its pod names it.
    const patch = JSON.parse(Buffer.from(response.patch, 'base64').toString('utf8')) as { path: string; value: unknown }[];
    const images = JSON.stringify(patch).match(/"image":"[^"]+"/g);
    expect([...new Set(images)]).toEqual([`"image":"${OWN_IMAGE}"`]);
    expect(webhook.output()).toContain(`"image":"${OWN_IMAGE}","msg":"webhook injects the image of its own container"`);
    expect(webhook.output()).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}\./); // no JWT in the logs
    const health = (JSON.parse(await webhook.waitFor(/"msg":"webhook waiting for its serving certificate"/)) as { health: string }).health;
    expect(await (await fetch(`http://${health}/metrics`)).text()).toMatch(/ztmesh_webhook_admissions_total\{outcome="injected"\} [1-9]/);
  });

  it('--distribute-bundle: each namespace the API server says is meshed gets ConfigMap ztmesh-trust-bundle with the CA\'s roots', async () => {
    const roots = certsToPem(fromPemAll(ca.bundlePem));
    await expect.poll(() => api.configMaps.get('shop/ztmesh-trust-bundle')?.data?.['roots.pem'], { timeout: 10_000 }).toBe(roots);
    api.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'later', labels: { 'ztmesh.io/inject': 'enabled' } } });
    await expect.poll(() => api.configMaps.get('later/ztmesh-trust-bundle')?.data?.['roots.pem'], { timeout: 10_000 }).toBe(roots);
  });
});

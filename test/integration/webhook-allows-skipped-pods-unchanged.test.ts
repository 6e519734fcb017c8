// Pods the webhook should skip are allowed with no patch (never an error); malformed annotations are denied
// with a message naming them; a body that is not an AdmissionReview gets HTTP 400. Each answer is logged.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/common/clock.js';
import { DEFAULT_INJECT_OPTIONS, injectPod } from '../../src/k8s/inject.js';
import { startWebhookServer, staticCerts, type RunningWebhook } from '../../src/k8s/webhook.js';
import { makeCa, makeLeaf } from '../helpers/pki.js';
import { captureLogger } from '../helpers/k8s-test-kit.js';
import { admissionFixture, postHttps } from '../helpers/webhook-client.js';

const ca = makeCa('cluster.local');
const leaf = makeLeaf(ca, 'spiffe://cluster.local/ns/ztmesh-system/sa/ztmesh-webhook', { dnsNames: ['ztmesh-webhook.ztmesh-system.svc'] });
const TLS = { caPem: ca.certPem, serverName: 'ztmesh-webhook.ztmesh-system.svc' };
const log = captureLogger();
let webhook: RunningWebhook;

beforeAll(async () => {
  webhook = await startWebhookServer({
    host: '127.0.0.1', port: 0, inject: DEFAULT_INJECT_OPTIONS, clock: systemClock, log: log.logger,
    certs: staticCerts({ certPem: leaf.certPem, keyPem: leaf.keyPem, notAfterMs: Date.now() + 3_600_000, serial: leaf.serialHex }),
  });
});
afterAll(async () => { await webhook.close(); });

async function send(mutate: (r: any) => void) { // eslint-disable-line @typescript-eslint/no-explicit-any
  const review = admissionFixture();
  review.request.uid = randomUUID();
  mutate(review);
  const reply = await postHttps(webhook.port, '/inject', JSON.stringify(review), TLS);
  expect(reply.status).toBe(200);
  return { uid: review.request.uid as string, response: JSON.parse(reply.body).response };
}

describe('ztmesh webhook: pods it must not inject', () => {
  it.each([
    ['annotation ztmesh.io/inject: "false"', (r: any) => { r.request.object.metadata.annotations['ztmesh.io/inject'] = 'false'; }, 'opted_out'], // eslint-disable-line @typescript-eslint/no-explicit-any
    ['hostNetwork: true', (r: any) => { r.request.object.spec.hostNetwork = true; }, 'host_network'], // eslint-disable-line @typescript-eslint/no-explicit-any
    ['already injected, up to date', (r: any) => { r.request.object = injectPod(r.request.object, DEFAULT_INJECT_OPTIONS).pod; }, 'up_to_date'], // eslint-disable-line @typescript-eslint/no-explicit-any
    ['a ztmesh-sidecar container ztmesh did not add', (r: any) => { r.request.object.spec.containers.push({ name: 'ztmesh-sidecar', image: 'x' }); }, 'foreign_sidecar'], // eslint-disable-line @typescript-eslint/no-explicit-any
  ])('%s → allowed, no patch, logged with the reason', async (_, mutate, reason) => {
    const { uid, response } = await send(mutate);
    expect(response).toEqual({ uid, allowed: true });
    await expect.poll(() => log.lines.find((l) => l.uid === uid)).toMatchObject({ reason, namespace: 'shop', msg: 'admission: pod not injected' });
  });

  it.each([
    ['an UPDATE', (r: any) => { r.request.operation = 'UPDATE'; }], // eslint-disable-line @typescript-eslint/no-explicit-any
    ['a pods/ephemeralcontainers subresource', (r: any) => { r.request.subResource = 'ephemeralcontainers'; }], // eslint-disable-line @typescript-eslint/no-explicit-any
    ['not a Pod', (r: any) => { r.request.kind.kind = 'Deployment'; r.request.resource.resource = 'deployments'; }], // eslint-disable-line @typescript-eslint/no-explicit-any
  ])('%s → allowed unchanged', async (_, mutate) => {
    const { uid, response } = await send(mutate);
    expect(response).toEqual({ uid, allowed: true });
  });

  it('a malformed ztmesh.io annotation → denied (400) with a message naming it', async () => {
    const { uid, response } = await send((r) => { r.request.object.metadata.annotations['ztmesh.io/inbound-ports'] = 'http'; });
    expect(response).toMatchObject({ uid, allowed: false, status: { code: 400, message: expect.stringContaining('ztmesh.io/inbound-ports') } });
    await expect.poll(() => log.lines.find((l) => l.uid === uid)).toMatchObject({ code: 'invalid_annotation', peer: expect.stringMatching(/^127\.0\.0\.1:\d+$/) });
  });

  it('a body that is not an AdmissionReview → HTTP 400, logged with the peer', async () => {
    for (const body of ['not json', JSON.stringify({ apiVersion: 'admission.k8s.io/v1beta1', kind: 'AdmissionReview', request: { uid: 'x' } }), JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview' })]) {
      const reply = await postHttps(webhook.port, '/inject', body, TLS);
      expect(reply.status).toBe(400);
    }
    await expect.poll(() => log.lines.filter((l) => l.code === 'bad_admission_review').length).toBe(3);
    expect(log.lines.find((l) => l.code === 'bad_admission_review')!.peer).toMatch(/^127\.0\.0\.1:\d+$/);
  });
});

// A recorded-format AdmissionReview over HTTPS: the returned JSONPatch, applied with a JSONPatch library,
// gives exactly what `ztmesh inject` makes of the same pod (both the pure function and the CLI).
import fastJsonPatch from 'fast-json-patch';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify, parse } from 'yaml';
import { silentLogger } from '../../src/common/logger.js';
import { systemClock } from '../../src/common/clock.js';
import { DEFAULT_INJECT_OPTIONS, injectPod } from '../../src/k8s/inject.js';
import { startWebhookServer, staticCerts, type RunningWebhook } from '../../src/k8s/webhook.js';
import { makeCa, makeLeaf } from '../helpers/pki.js';
import { runCli } from '../helpers/cli.js';
import { validateK8sObject } from '../helpers/k8s-schema.js';
import { admissionFixture, postHttps } from '../helpers/webhook-client.js';

const ca = makeCa('cluster.local');
const leaf = makeLeaf(ca, 'spiffe://cluster.local/ns/ztmesh-system/sa/ztmesh-webhook', { dnsNames: ['ztmesh-webhook.ztmesh-system.svc'] });
const TLS = { caPem: ca.certPem, serverName: 'ztmesh-webhook.ztmesh-system.svc' };
let webhook: RunningWebhook;

beforeAll(async () => {
  webhook = await startWebhookServer({
    host: '127.0.0.1', port: 0, inject: DEFAULT_INJECT_OPTIONS, clock: systemClock, log: silentLogger(),
    certs: staticCerts({ certPem: leaf.certPem, keyPem: leaf.keyPem, notAfterMs: Date.now() + 3_600_000, serial: leaf.serialHex }),
  });
});
afterAll(async () => { await webhook.close(); });

describe('ztmesh webhook: POST /inject with a pod CREATE', () => {
  it('answers an AdmissionReview whose JSONPatch yields exactly the injected pod', async () => {
    const review = admissionFixture();
    const reply = await postHttps(webhook.port, '/inject', JSON.stringify(review), TLS);
    expect(reply.status).toBe(200);
    const out = JSON.parse(reply.body);
    expect(out.apiVersion).toBe('admission.k8s.io/v1');
    expect(out.kind).toBe('AdmissionReview');
    expect(out.response).toMatchObject({ uid: review.request.uid, allowed: true, patchType: 'JSONPatch' });
    const patch = JSON.parse(Buffer.from(out.response.patch, 'base64').toString('utf8'));
    expect(fastJsonPatch.validate(patch, structuredClone(review.request.object))).toBeUndefined();
    const patched = fastJsonPatch.applyPatch(structuredClone(review.request.object), patch, true, false).newDocument;

    const expected = injectPod(review.request.object, DEFAULT_INJECT_OPTIONS).pod;
    expect(patched).toEqual(expected);
    expect(patched.spec.initContainers.map((c: { name: string }) => c.name)).toEqual(['ztmesh-init', 'ztmesh-sidecar']);
    // The kubelet-facing fields the API server added before us are untouched.
    expect(patched.spec.volumes[0].name).toBe('kube-api-access-x7k2p');
    expect(patched.spec.tolerations).toEqual(review.request.object.spec.tolerations);
    validateK8sObject(patched);
  });

  it('equals what the `ztmesh inject` CLI writes for the same pod', async () => {
    const review = admissionFixture();
    const reply = await postHttps(webhook.port, '/inject', JSON.stringify(review), TLS);
    const patch = JSON.parse(Buffer.from(JSON.parse(reply.body).response.patch, 'base64').toString('utf8'));
    const patched = fastJsonPatch.applyPatch(structuredClone(review.request.object), patch, true, false).newDocument;
    const cli = await runCli(['inject', '-f', '-'], { input: stringify(review.request.object) });
    expect(cli.code).toBe(0);
    expect(cli.stderr).toContain('Pod/<unnamed>: injected');
    // YAML cannot hold `undefined`; both sides go through JSON for the comparison.
    expect(JSON.parse(JSON.stringify(parse(cli.stdout)))).toEqual(JSON.parse(JSON.stringify(patched)));
  });

  it('injecting the already-patched pod again (reinvocation) gives no patch', async () => {
    const review = admissionFixture();
    review.request.object = injectPod(review.request.object, DEFAULT_INJECT_OPTIONS).pod;
    const out = JSON.parse((await postHttps(webhook.port, '/inject', JSON.stringify(review), TLS)).body);
    expect(out.response).toEqual({ uid: review.request.uid, allowed: true });
  });
});

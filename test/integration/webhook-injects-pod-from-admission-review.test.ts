// A recorded-format AdmissionReview over HTTPS: the returned JSONPatch, applied with a JSONPatch library,
// gives exactly what `ztmesh inject` makes of the same pod (both the pure function and the CLI).
import fastJsonPatch from 'fast-json-patch';
import { describe, expect, it } from 'vitest';
import { stringify, parse } from 'yaml';
import { ZTMESH_VERSION } from '../../src/common/version.js';
import { DEFAULT_INJECT_OPTIONS, injectPod } from '../../src/k8s/inject.js';
import { runCli } from '../helpers/cli.js';
import { validateK8sObject } from '../helpers/k8s-schema.js';
import { admissionFixture, webhookForSuite } from '../helpers/webhook-client.js';

const webhook = webhookForSuite();

describe('ztmesh webhook: POST /inject with a pod CREATE', () => {
  it('answers an AdmissionReview whose JSONPatch yields exactly the injected pod', async () => {
    const review = admissionFixture();
    const reply = await webhook.inject(review);
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
    // The webhook stamps its version on the pods it injects, and labels them meshed.
    expect(patched.metadata.annotations['ztmesh.io/version']).toBe(ZTMESH_VERSION);
    expect(patched.metadata.labels['ztmesh.io/meshed']).toBe('true');
    // The kubelet-facing fields the API server added before us are untouched.
    expect(patched.spec.volumes[0].name).toBe('kube-api-access-x7k2p');
    expect(patched.spec.tolerations).toEqual(review.request.object.spec.tolerations);
    validateK8sObject(patched);
  });

  it('equals what the `ztmesh inject` CLI writes for the same pod', async () => {
    const review = admissionFixture();
    const reply = await webhook.inject(review);
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
    const out = JSON.parse((await webhook.inject(review)).body);
    expect(out.response).toEqual({ uid: review.request.uid, allowed: true });
  });
});
